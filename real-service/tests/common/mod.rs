//! Test harness: the service as a real child process, a throwaway PostgreSQL, HAProxy.
//! Nothing here installs anything: a missing binary fails with a message naming
//! `scripts/test-deps.txt`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use measure::ShutdownStep;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_fleetsim-service");

pub(crate) fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Poll `f` until it returns Some, or panic with `what` after `timeout`.
pub(crate) fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

static SEQ: AtomicU32 = AtomicU32::new(0);

pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "fleetsim-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub(crate) fn send_signal(pid: u32, sig: i32) {
    // SAFETY: plain kill(2) on a pid we started.
    let rc = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}) failed: {}",
        std::io::Error::last_os_error()
    );
}

/// Collected output lines of a child process.
#[derive(Clone, Default)]
pub(crate) struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn follow(&self, r: impl Read + Send + 'static) {
        let lines = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
    }
    pub(crate) fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    pub(crate) fn find(&self, pred: impl Fn(&str) -> bool) -> Option<String> {
        self.0.lock().unwrap().iter().find(|l| pred(l)).cloned()
    }
    pub(crate) fn json(&self) -> Vec<serde_json::Value> {
        self.all()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
    /// Lifecycle steps in log order, with their monotonic timestamps and the whole line.
    pub(crate) fn steps(&self) -> Vec<(ShutdownStep, u64, serde_json::Value)> {
        self.json()
            .into_iter()
            .filter_map(|v| {
                let step = v.get("step")?.as_str()?.parse::<ShutdownStep>().ok()?;
                let ns = v.get("mono_ns")?.as_u64()?;
                Some((step, ns, v))
            })
            .collect()
    }
    pub(crate) fn step(&self, s: ShutdownStep) -> Option<serde_json::Value> {
        self.steps()
            .into_iter()
            .find(|(st, _, _)| *st == s)
            .map(|(_, _, v)| v)
    }
}

/// One service process (or a wrapper around it: unshare, a shell entrypoint).
pub(crate) struct Svc {
    pub child: Child,
    pub stdout: Lines,
    pub stderr: Lines,
    pub addr: SocketAddr,
    pub name: String,
    exit: Option<ExitStatus>,
}

/// A command for the service binary with a clean FLEETSIM_* environment and loopback port 0.
pub(crate) fn service_cmd(pod: &str, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    prepare(&mut cmd, pod, env);
    cmd
}

pub(crate) fn prepare(cmd: &mut Command, pod: &str, env: &[(&str, String)]) {
    for (k, _) in std::env::vars() {
        if k.starts_with("FLEETSIM_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("FLEETSIM_LISTEN", "127.0.0.1:0")
        .env("FLEETSIM_POD_NAME", pod);
    for (k, v) in env {
        cmd.env(k, v);
    }
}

impl Svc {
    pub(crate) fn start(pod: &str, env: &[(&str, String)]) -> Svc {
        Svc::spawn(pod, service_cmd(pod, env))
    }

    /// Spawn `cmd` (stdout/stderr captured) and wait for the service's `listening` line.
    pub(crate) fn spawn(name: &str, mut cmd: Command) -> Svc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdout = Lines::default();
        let stderr = Lines::default();
        stdout.follow(child.stdout.take().unwrap());
        stderr.follow(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            if let Some(line) = stdout.find(|l| l.contains("\"event\":\"listening\"")) {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                break v["addr"].as_str().unwrap().parse().unwrap();
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "{name} exited early with {st}\nstdout: {:#?}\nstderr: {:#?}",
                    stdout.all(),
                    stderr.all()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "{name} did not log its listening address\nstdout: {:#?}\nstderr: {:#?}",
                    stdout.all(),
                    stderr.all()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Svc {
            child,
            stdout,
            stderr,
            addr,
            name: name.to_string(),
            exit: None,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn wait_ready(&self, timeout: Duration) {
        wait_for(
            &format!("{} /readyz 200 on {}", self.name, self.addr),
            timeout,
            || (get(self.addr, "/readyz").ok()?.status == 200).then_some(()),
        );
    }

    pub(crate) fn signal(&self, sig: i32) {
        send_signal(self.pid(), sig);
    }

    /// Wait for the process to exit, up to `timeout`.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exit.is_some() {
            return self.exit;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                self.exit = Some(st);
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return self.exit;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub(crate) fn dump(&self) -> String {
        format!(
            "{} on {}\nstdout:\n{}\nstderr:\n{}",
            self.name,
            self.addr,
            self.stdout.all().join("\n"),
            self.stderr.all().join("\n")
        )
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        if self.exit.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read one response with a Content-Length body from `s`.
pub(crate) fn read_response(s: &mut TcpStream) -> std::io::Result<Resp> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("connection closed after {} bytes of head", buf.len()),
            ));
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok(Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

pub(crate) fn write_request(
    s: &mut TcpStream,
    method: &str,
    path: &str,
    close: bool,
) -> std::io::Result<()> {
    let conn = if close { "Connection: close\r\n" } else { "" };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: test\r\n{conn}Content-Length: 0\r\n\r\n"
    )
}

pub(crate) fn request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write_request(&mut s, method, path, true)?;
    read_response(&mut s)
}

pub(crate) fn get(addr: SocketAddr, path: &str) -> std::io::Result<Resp> {
    request(addr, "GET", path)
}

// ---- PostgreSQL --------------------------------------------------------------------------

pub(crate) const DEPS_HINT: &str = "install the Debian packages listed in scripts/test-deps.txt (CI runs: xargs apt-get install -y < scripts/test-deps.txt)";

fn find_bin(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    for d in extra_dirs {
        let p = d.join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn pg_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.reverse();
    dirs
}

/// uid/gid of the `postgres` user (PostgreSQL refuses to run as root).
fn postgres_user() -> Option<(u32, u32)> {
    let name = std::ffi::CString::new("postgres").unwrap();
    // SAFETY: getpwnam returns a pointer into static storage or null; read at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: pw is non-null.
    unsafe { Some(((*pw).pw_uid, (*pw).pw_gid)) }
}

pub(crate) struct Pg {
    pub port: u16,
    dir: PathBuf,
    child: Child,
    postgres: PathBuf,
    data: PathBuf,
    user: Option<(u32, u32)>,
}

impl Pg {
    pub(crate) fn start() -> Pg {
        let dirs = pg_dirs();
        let (Some(initdb), Some(postgres)) =
            (find_bin("initdb", &dirs), find_bin("postgres", &dirs))
        else {
            panic!(
                "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH: {DEPS_HINT}"
            );
        };
        let dir = temp_dir("pg");
        let data = dir.join("data");
        // SAFETY: geteuid has no preconditions.
        let as_root = unsafe { libc::geteuid() } == 0;
        let user = if as_root {
            let Some(u) = postgres_user() else {
                panic!(
                    "running as root but there is no `postgres` user to run PostgreSQL as: {DEPS_HINT}"
                );
            };
            std::os::unix::fs::chown(&dir, Some(u.0), Some(u.1)).unwrap();
            Some(u)
        } else {
            None
        };
        let as_user = |cmd: &mut Command| {
            if let Some((uid, gid)) = user {
                use std::os::unix::process::CommandExt;
                cmd.uid(uid).gid(gid);
            }
        };
        let mut init = Command::new(&initdb);
        init.args(["-D"]).arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ]);
        as_user(&mut init);
        let out = init.output().unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The port comes from free_port(), so another process may take it before postgres binds
        // it (a service binding port 0, say): if postgres exits at start, try another port.
        let log = dir.join("postgres.log");
        for attempt in 1..=3 {
            let port = free_port();
            let mut child = spawn_postgres(&postgres, &data, &dir, port, user);
            let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if pg_query(&url, "SELECT 1").is_ok() {
                    return Pg {
                        port,
                        dir,
                        child,
                        postgres,
                        data,
                        user,
                    };
                }
                if let Ok(Some(st)) = child.try_wait() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    eprintln!(
                        "postgres on port {port} exited with {st} (attempt {attempt}):\n{text}"
                    );
                    break;
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "PostgreSQL on 127.0.0.1:{port} did not answer within 30 s:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("PostgreSQL did not start in three attempts (see the logs above)");
    }

    /// Stop the server (immediate shutdown, SIGQUIT): a database outage. The data stays.
    pub(crate) fn stop(&mut self) {
        // The server runs with synchronous_commit=off: flush what is committed first, so the
        // outage loses no schema or rows (an immediate shutdown does not write the WAL buffer).
        self.query("CHECKPOINT");
        let _ = unsafe { libc::kill(self.child.id() as i32, libc::SIGQUIT) };
        let _ = self.child.wait();
    }

    /// Start the server again on the same port and data (after `stop`), and wait for it.
    pub(crate) fn restart(&mut self) {
        self.child = spawn_postgres(&self.postgres, &self.data, &self.dir, self.port, self.user);
        let url = self.url();
        wait_for(
            "PostgreSQL to answer after its restart",
            Duration::from_secs(30),
            || pg_query(&url, "SELECT 1").ok().map(|_| ()),
        );
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Run one query on a fresh connection (tests poll with this).
    pub(crate) fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        pg_query(&self.url(), sql).unwrap_or_else(|e| panic!("query {sql:?} failed: {e}"))
    }

    pub(crate) fn count(&self, sql: &str) -> i64 {
        self.query(sql)[0].get::<_, i64>(0)
    }
}

fn spawn_postgres(
    postgres: &Path,
    data: &Path,
    dir: &Path,
    port: u16,
    user: Option<(u32, u32)>,
) -> Child {
    let mut cmd = Command::new(postgres);
    cmd.arg("-D")
        .arg(data)
        .args([
            "-p",
            &port.to_string(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=100",
        ])
        .arg("-k")
        .arg(dir);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("postgres.log"))
        .unwrap();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    if let Some((uid, gid)) = user {
        use std::os::unix::process::CommandExt;
        cmd.uid(uid).gid(gid);
    }
    cmd.spawn().unwrap()
}

fn pg_query(url: &str, sql: &str) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        let h = tokio::spawn(conn);
        let rows = client.query(sql, &[]).await;
        drop(client);
        let _ = h.await;
        rows
    })
}

impl Drop for Pg {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown; then reap and remove the data directory.
        let _ = unsafe { libc::kill(self.child.id() as i32, libc::SIGQUIT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---- HAProxy -----------------------------------------------------------------------------

pub(crate) fn haproxy_bin() -> PathBuf {
    find_bin("haproxy", &[PathBuf::from("/usr/sbin")])
        .unwrap_or_else(|| panic!("haproxy not found in /usr/sbin or PATH: {DEPS_HINT}"))
}

/// HAProxy on loopback in front of named backend servers, with a runtime-API socket.
pub(crate) struct Haproxy {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
    pub log: PathBuf,
}

impl Haproxy {
    /// `servers`: (name, address, initially enabled). No health checks: the test plays the
    /// health checker and drives server state through the runtime API.
    pub(crate) fn start(servers: &[(&str, SocketAddr, bool)]) -> Haproxy {
        // The frontend port comes from free_port(); if another process takes it first, HAProxy
        // exits at start: try another port.
        let mut errors = Vec::new();
        for _ in 0..3 {
            match Haproxy::try_start(servers) {
                Ok(hp) => return hp,
                Err(e) => errors.push(e),
            }
        }
        panic!(
            "haproxy did not start in three attempts:\n{}",
            errors.join("\n---\n")
        );
    }

    fn try_start(servers: &[(&str, SocketAddr, bool)]) -> Result<Haproxy, String> {
        let bin = haproxy_bin();
        let dir = temp_dir("haproxy");
        let port = free_port();
        let sock = dir.join("admin.sock");
        let mut cfg = format!(
            "global\n  stats socket {} mode 600 level admin\n  maxconn 4000\n\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  retries 0\n  option http-keep-alive\n\nfrontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\n\nbackend be\n  balance roundrobin\n",
            sock.display()
        );
        for (name, addr, enabled) in servers {
            cfg.push_str(&format!(
                "  server {name} {addr}{}\n",
                if *enabled { "" } else { " disabled" }
            ));
        }
        let cfg_path = dir.join("haproxy.cfg");
        std::fs::write(&cfg_path, &cfg).unwrap();
        let check = Command::new(&bin)
            .arg("-c")
            .arg("-f")
            .arg(&cfg_path)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "haproxy config check failed:\n{cfg}\n{}",
            String::from_utf8_lossy(&check.stderr)
        );
        let log = dir.join("haproxy.log");
        let child = Command::new(&bin)
            .arg("-db")
            .arg("-f")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("haproxy.err")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let mut hp = Haproxy {
            port,
            dir,
            child,
            log,
        };
        let err = hp.dir.join("haproxy.err");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = hp.child.try_wait() {
                return Err(format!(
                    "haproxy on port {port} exited with {st}:\n{}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                ));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() && sock.exists() {
                return Ok(hp);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "haproxy on 127.0.0.1:{port} did not listen within 10 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// One runtime-API command; returns HAProxy's answer.
    pub(crate) fn admin(&self, command: &str) -> String {
        let mut s = std::os::unix::net::UnixStream::connect(self.dir.join("admin.sock")).unwrap();
        writeln!(s, "{command}").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    pub(crate) fn set_state(&self, server: &str, state: &str) {
        let out = self.admin(&format!("set server be/{server} state {state}"));
        assert!(
            out.trim().is_empty(),
            "haproxy refused `set server be/{server} state {state}`: {out}"
        );
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn exists(p: &Path) -> bool {
    p.exists()
}
