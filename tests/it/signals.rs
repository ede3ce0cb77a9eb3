//! Issue 13, item 8 and the signals: SIGINT and SIGTERM sent to the real binary stop `load`,
//! `run`, `sweep` and `analyze` within a stated time, keep what was recorded and exit
//! non-zero. Loopback only (the crate's trivial server).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fleetsim");

/// A started command that is killed (and reaped) when the test ends, even by a failed assertion:
/// a panicking test must not leave a `run --seeds 100000` burning the machine's cores.
struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(r, 0);
}

/// Waits for the child at most `limit`; its exit code and how long it took after the signal.
fn wait_within(child: &mut Child, limit: Duration) -> (i32, Duration) {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), t0.elapsed());
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("still running {limit:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `ready` every 10 ms until it holds; panics naming `what` if it does not within `limit`.
fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ready() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The command's signal thread is running (`interrupts::install` starts it before any work):
/// the process has a second thread.
fn signal_thread_started(child: &Child) -> bool {
    std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .map(|d| d.count() >= 2)
        .unwrap_or(false)
}

fn hidden_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// The issue: an overloaded `load` stopped by SIGINT lost records (28,929 sent, 15,360
/// recorded), took 23-25 s to exit instead of the timeout + 2 s, and exited 0.
#[test]
fn sigint_stops_an_overloaded_load_within_timeout_plus_2s_with_every_record() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    std::thread::spawn(move || loadgen::trivial::serve_blocking(addr));
    wait_for("the trivial server accepts", Duration::from_secs(5), || {
        std::net::TcpStream::connect(addr).is_ok()
    });
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("rec.ndjson");
    // 50,000 req/s on one thread, new connection per request: far more than it can send.
    let mut child = Running(
        Command::new(BIN)
            .args([
                "load",
                "--target",
                &format!("http://{addr}/"),
                "--rate",
                "50000",
            ])
            .args([
                "--mode",
                "new",
                "--clients",
                "64",
                "--timeout",
                "2s",
                "--duration",
                "60s",
            ])
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Interrupt it well into the schedule: once more than 1,000 records are on disk.
    wait_for("1,000 records written", Duration::from_secs(15), || {
        std::fs::read_to_string(&out)
            .is_ok_and(|t| t.lines().filter(|l| l.starts_with("{\"t\":\"r\"")).count() > 1000)
    });
    signal(&child, libc::SIGINT);
    // The promise: --timeout (2 s) + 2 s; a second of slack for a loaded test machine.
    let (code, took) = wait_within(&mut child, Duration::from_secs(5));
    assert_eq!(code, 1, "exits non-zero");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    let footer: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(footer["t"], "f");
    assert_eq!(footer["interrupted"], "SIGINT");
    assert_eq!(footer["stopped_early"], true);
    let lines = text
        .lines()
        .filter(|l| l.starts_with("{\"t\":\"r\""))
        .count() as u64;
    assert!(lines > 1000, "{lines} requests");
    // `sent` counts requests that went on the wire; a request whose task had not started when
    // the signal came is recorded too (a generator fault, never sent), so the file accounts for
    // every request handed out: every sent request has its record, and no record is lost.
    let sent = footer["sent"].as_u64().unwrap();
    let faults = text
        .lines()
        .filter(|l| l.starts_with("{\"t\":\"r\"") && l.contains("\"gf\":true"))
        .count() as u64;
    assert!(sent <= lines, "sent {sent} > {lines} records");
    assert!(
        lines - faults <= sent,
        "{lines} records, {faults} generator faults, but only {sent} sent"
    );
    assert_eq!(footer["recorded"].as_u64().unwrap(), lines);
}

/// `run` and `sweep` stop at once on SIGINT / SIGTERM (exit 130 / 143), leave the earlier
/// output as it was and no temporary folder.
#[test]
fn run_and_sweep_stop_at_once_and_keep_the_earlier_output() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r");
    let ok = Command::new(BIN)
        .args(["run", "before", "--seeds", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let before = std::fs::read(out.join("summary.json")).unwrap();
    for (args, sig, want) in [
        (
            vec!["run", "before", "--seeds", "100000"],
            libc::SIGINT,
            130,
        ),
        (
            vec![
                "sweep",
                "before",
                "--vary",
                "lifecycle.prestop=0s..20s/1s",
                "--seeds",
                "5000",
                "--no-progress",
            ],
            libc::SIGTERM,
            143,
        ),
    ] {
        let mut child = Running(
            Command::new(BIN)
                .args(&args)
                .arg("--out")
                .arg(&out)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // Mid-run: its signal thread (started before any work) is up; 100,000 seeds or
        // 21 x 5,000 take far longer than the test's wait.
        wait_for(
            "the command's signal thread",
            Duration::from_secs(10),
            || signal_thread_started(&child),
        );
        signal(&child, sig);
        let (code, took) = wait_within(&mut child, Duration::from_secs(2));
        assert_eq!(code, want, "{args:?}");
        assert!(took < Duration::from_secs(2), "{args:?}: {took:?}");
        assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
        assert_eq!(hidden_entries(d.path()), Vec::<String>::new());
    }
}

/// `analyze` blocked on its input (a FIFO nobody writes) stops on SIGINT.
#[test]
fn analyze_stops_on_sigint() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("records");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut child = Running(
        Command::new(BIN)
            .arg("analyze")
            .arg(&fifo)
            .arg("--out-dir")
            .arg(d.path().join("a"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("analyze's signal thread", Duration::from_secs(5), || {
        signal_thread_started(&child)
    });
    signal(&child, libc::SIGINT);
    let (code, _) = wait_within(&mut child, Duration::from_secs(2));
    assert_eq!(code, 130);
    assert!(!d.path().join("a").exists());
    assert_eq!(hidden_entries(d.path()), Vec::<String>::new());
}
