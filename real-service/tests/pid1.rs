//! The pid1 lever in a real PID namespace (`unshare --pid --fork --mount-proc`): with the exec
//! form the service is PID 1 and exits on SIGTERM; with the shell form `sh` is PID 1, has no
//! SIGTERM handler (so the kernel drops the signal sent to a namespace's init) and forwards
//! nothing: the service keeps running until SIGKILL.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use measure::ShutdownStep as S;

fn unshare_bin() -> String {
    for d in ["/usr/bin/unshare", "/bin/unshare"] {
        if std::path::Path::new(d).exists() {
            return d.to_string();
        }
    }
    panic!("unshare not found: {DEPS_HINT}");
}

/// Kills a PID namespace's init (and so the whole namespace) if a test ends early: killing
/// `unshare` alone would leave the namespace running.
struct NsGuard(u32);
impl Drop for NsGuard {
    fn drop(&mut self) {
        // SAFETY: plain kill(2); ESRCH after a normal end is fine.
        unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
    }
}

fn in_pid_namespace(form: &str) -> Svc {
    let script = crate_dir().join("entrypoint").join(form);
    let mut cmd = Command::new(unshare_bin());
    cmd.args(["--pid", "--fork", "--mount-proc"]).arg(&script);
    in_namespace(form, cmd)
}

fn in_namespace(form: &str, mut cmd: Command) -> Svc {
    prepare(
        &mut cmd,
        form,
        &[
            ("FLEETSIM_BIN", BIN.to_string()),
            ("FLEETSIM_DRAIN_LEVER", "true".into()),
            ("FLEETSIM_DRAIN_TIMEOUT", "2s".into()),
            ("FLEETSIM_SHUTDOWN_BUDGET", "4s".into()),
        ],
    );
    Svc::spawn(form, cmd)
}

/// Host pids of the children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect()
}

/// The pid chain of a process, outermost namespace first (`NSpid:` of /proc/PID/status).
fn nspid(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn exec_form_service_is_pid1_and_exits_on_sigterm() {
    let mut ns = in_pid_namespace("exec-form.sh");
    ns.wait_ready(Duration::from_secs(10));
    let init = wait_for("the namespace's init", Duration::from_secs(5), || {
        children(ns.pid()).first().copied()
    });
    let _guard = NsGuard(init);
    assert_eq!(nspid(init).last(), Some(&1), "PID 1 inside the namespace");
    assert_eq!(
        comm(init),
        "fleetsim-servic",
        "exec form: the service itself is PID 1"
    );
    send_signal(init, libc::SIGTERM);
    let st = ns
        .wait_exit(Duration::from_secs(6))
        .unwrap_or_else(|| panic!("PID 1 ignored SIGTERM: {}", ns.dump()));
    assert_eq!(st.code(), Some(0), "{}", ns.dump());
    assert!(
        ns.stdout.step(S::SigtermReceived).is_some(),
        "{}",
        ns.dump()
    );
    assert_eq!(ns.stdout.step(S::Exited).unwrap()["code"], 0);
}

#[test]
fn shell_form_swallows_sigterm_until_sigkill() {
    shell_swallows_sigterm(in_pid_namespace("shell-form.sh"), "shell-form.sh");
}

/// What Docker makes of a shell-form `ENTRYPOINT /usr/local/bin/fleetsim-service`:
/// `/bin/sh -c "/usr/local/bin/fleetsim-service"`. Debian's dash does not exec a lone `-c`
/// command, so the shell stays PID 1 exactly as with shell-form.sh.
#[test]
fn docker_shell_form_sh_c_swallows_sigterm_until_sigkill() {
    let mut cmd = Command::new(unshare_bin());
    cmd.args(["--pid", "--fork", "--mount-proc", "/bin/sh", "-c", BIN]);
    shell_swallows_sigterm(in_namespace("sh-c", cmd), "sh");
}

fn shell_swallows_sigterm(mut ns: Svc, shell_comm: &str) {
    ns.wait_ready(Duration::from_secs(10));
    let init = wait_for("the namespace's init", Duration::from_secs(5), || {
        children(ns.pid()).first().copied()
    });
    let _guard = NsGuard(init);
    assert_eq!(nspid(init).last(), Some(&1));
    assert_eq!(comm(init), shell_comm, "shell form: the shell is PID 1");
    let service = children(init)[0];
    assert_eq!(
        nspid(service).last(),
        Some(&2),
        "the service is the shell's child"
    );

    send_signal(init, libc::SIGTERM);
    // A non-event can only be observed over a window: watch for 2 s (with the exec form the
    // service logs sigterm_received within milliseconds) and require the service untouched.
    let window = Instant::now() + Duration::from_secs(2);
    while Instant::now() < window {
        assert!(
            ns.child.try_wait().unwrap().is_none(),
            "the namespace ended on SIGTERM: {}",
            ns.dump()
        );
        assert!(
            ns.stdout.step(S::SigtermReceived).is_none(),
            "SIGTERM reached the service: {}",
            ns.dump()
        );
        assert_eq!(
            get(ns.addr, "/readyz").map(|r| r.status).ok(),
            Some(200),
            "{}",
            ns.dump()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The kubelet's SIGKILL at the end of the grace period: the whole namespace dies at once,
    // and the service never logged a single shutdown step.
    send_signal(init, libc::SIGKILL);
    let st = ns
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("SIGKILL did not end it: {}", ns.dump()));
    assert!(!st.success(), "{st}");
    assert!(ns.stdout.steps().is_empty(), "{}", ns.dump());
    wait_for("the service port to refuse", Duration::from_secs(5), || {
        std::net::TcpStream::connect(ns.addr).is_err().then_some(())
    });
}
