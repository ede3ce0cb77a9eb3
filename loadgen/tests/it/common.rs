//! Tiny real servers on loopback for the generator's tests, and helpers to run the generator and
//! read its record file. Every server thread has a deadline, so no test can hang.

use clap::Parser;
use loadgen::record::{Line, Req, parse_line};
use loadgen::{LoadOpts, LoadReport};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long any test server thread lives at most.
pub(crate) const SERVER_LIFETIME: Duration = Duration::from_secs(60);

pub(crate) fn tmp_path(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("loadgen-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}-{}", N.fetch_add(1, Ordering::Relaxed), name))
}

/// Run the generator with these arguments (the `--out` is added) and return its report and the
/// parsed lines of its record file.
pub(crate) fn run_load(args: &[&str]) -> (LoadReport, Vec<Line>) {
    let out = tmp_path("records.ndjson");
    let mut argv = vec![
        "load".to_string(),
        "--no-signals".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    argv.extend(args.iter().map(|s| s.to_string()));
    let plan = LoadOpts::parse_from(&argv).plan().unwrap();
    let report = loadgen::run(plan).unwrap_or_else(|e| panic!("load {argv:?} failed: {e}"));
    (report, read_lines(&out))
}

pub(crate) fn read_lines(path: &PathBuf) -> Vec<Line> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| parse_line(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

pub(crate) fn reqs(lines: &[Line]) -> Vec<Req> {
    let mut v: Vec<Req> = lines
        .iter()
        .filter_map(|l| {
            if let Line::Req(r) = l {
                Some(r.clone())
            } else {
                None
            }
        })
        .collect();
    v.sort_by_key(|r| r.i);
    v
}

/// Read one HTTP request head (up to the blank line). `None` on EOF or error.
pub(crate) fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {
                buf.push(b[0]);
                if buf.ends_with(b"\r\n\r\n") {
                    return Some(String::from_utf8_lossy(&buf).into_owned());
                }
            }
        }
    }
}

/// A listener whose connections are each handled on their own thread by `handler`, until the
/// server's lifetime ends.
pub(crate) fn serve<F>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream, u64) + Send + Sync + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    l.set_nonblocking(true).unwrap();
    let handler = std::sync::Arc::new(handler);
    std::thread::spawn(move || {
        let end = Instant::now() + SERVER_LIFETIME;
        let mut n = 0u64;
        while Instant::now() < end {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(SERVER_LIFETIME)).unwrap();
                    let h = handler.clone();
                    let k = n;
                    n += 1;
                    std::thread::spawn(move || h(s, k));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    addr
}

pub(crate) fn respond(s: &mut TcpStream, status: &str, extra: &str, body: &str) {
    let r = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nx-fleetsim-pod: test-pod\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = s.write_all(r.as_bytes());
}

/// Close with RST instead of FIN.
pub(crate) fn reset(s: TcpStream) {
    let sock = socket2::Socket::from(s);
    sock.set_linger(Some(Duration::ZERO)).unwrap();
    drop(sock);
}

/// A well-behaved keep-alive server: `200 ok` to every request.
pub(crate) fn ok_server() -> SocketAddr {
    serve(|mut s, _| {
        while read_head(&mut s).is_some() {
            respond(&mut s, "200 OK", "", "ok");
        }
    })
}

/// An address nothing listens on.
pub(crate) fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a
}

/// The crate's trivial hyper server (async, one thread): for tests with thousands of connections.
pub(crate) fn trivial_server() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            let _ = tokio::time::timeout(SERVER_LIFETIME, loadgen::trivial::serve(l)).await;
        });
    });
    addr
}

/// `POST path` to the generator's control port at `addr`; the whole response.
pub(crate) fn http_post(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: ctl\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Polls `f` until it gives a value, failing the test with `what` after 10 s: a wait on a
/// condition with a deadline, never a fixed sleep.
pub(crate) fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The generator's control address, once `--control-addr-file` holds it.
pub(crate) fn control_addr(file: &PathBuf) -> String {
    wait_for("the control port", || {
        std::fs::read_to_string(file).ok().filter(|s| !s.is_empty())
    })
}

/// A copy of the record file at `path` whose scheduled sends (`r` lines) went out `lag_of(i)` ns
/// after their intended start, whatever the real run's machine did: no send is a generator
/// fault (`gf` removed; lags must stay under 10 ms), first byte and end keep their order, and
/// the footer is valid. Every other line (retries, connections, marks) is kept as it was.
pub(crate) fn with_send_lags(path: &PathBuf, lag_of: impl Fn(u64) -> i64) -> PathBuf {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rewritten = String::new();
    for line in text.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["t"] == "r" {
            let i = v["i"].as_u64().unwrap();
            let actual = v["is"].as_i64().unwrap() + lag_of(i);
            v["as"] = actual.into();
            if let Some(o) = v.as_object_mut() {
                o.remove("gf");
            }
            for k in ["fb", "e"] {
                if let Some(t) = v[k].as_i64() {
                    v[k] = (t.max(actual + 1)).into();
                }
            }
        } else if v["t"] == "f" {
            v["valid"] = true.into();
            v["generator_faults"] = 0.into();
        }
        rewritten.push_str(&v.to_string());
        rewritten.push('\n');
    }
    let file = tmp_path("sends-rewritten.ndjson");
    std::fs::write(&file, rewritten).unwrap();
    file
}
