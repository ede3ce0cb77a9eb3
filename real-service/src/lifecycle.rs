//! Shutdown evidence: one JSON line per lifecycle step, on **stdout**.
//!
//! Every line carries `step` (one of the measurement contract's step names), `mono_ns`
//! (nanoseconds since process start, from the monotonic clock), `wall_unix_ms` (wall clock) and
//! `pod`, plus step details as top-level fields (`code` on `exited`). They carry target
//! `fleetsim::lifecycle` and the keys of the tracing JSON lines of other events. Each line is
//! written with one raw `write(2)` on fd 1, so the guardian can write its lines (`guardian_fired`,
//! `exited`) without the async runtime or any lock that a wedged thread could hold.

use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub(crate) use measure::ShutdownStep as Step;

static START: OnceLock<Instant> = OnceLock::new();
static POD: OnceLock<String> = OnceLock::new();

/// Fix the process start instant (call first thing in `main`) and the pod name for log lines.
pub(crate) fn init(pod: &str) {
    let _ = START.get_or_init(Instant::now);
    let _ = POD.set(pod.to_string());
}

/// Nanoseconds since process start on the monotonic clock.
pub(crate) fn mono_ns() -> u64 {
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch (wall clock).
pub(crate) fn wall_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The wire name of a step (`serde` snake_case of `measure::ShutdownStep`).
pub(crate) fn step_name(step: Step) -> &'static str {
    step.as_str()
}

fn pod() -> &'static str {
    POD.get().map(String::as_str).unwrap_or("")
}

/// Emit one lifecycle line. `detail` (a JSON object, or null) adds fields at the top level.
pub(crate) fn emit(step: Step, detail: serde_json::Value) {
    raw_write_stdout(&raw_line(step, detail));
}

/// Build one lifecycle line: the keys of the tracing JSON lines (`timestamp`, `level`, `target`,
/// `message`), the contract's `step`, `mono_ns`, `wall_unix_ms`, `pod`, and the detail fields.
pub(crate) fn raw_line(step: Step, detail: serde_json::Value) -> String {
    let mut obj = serde_json::json!({
        "timestamp": humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
        "level": "INFO",
        "target": "fleetsim::lifecycle",
        "message": "lifecycle",
        "step": step_name(step),
        "mono_ns": mono_ns(),
        "wall_unix_ms": wall_unix_ms(),
        "pod": pod(),
    });
    if let (Some(map), serde_json::Value::Object(extra)) = (obj.as_object_mut(), detail) {
        for (k, v) in extra {
            map.entry(k).or_insert(v);
        }
    }
    let mut s = obj.to_string();
    s.push('\n');
    s
}

/// Write one line to stdout with a single `write(2)`, bypassing Rust's stdout lock.
pub(crate) fn raw_write_stdout(line: &str) {
    // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop never closes it.
    let mut out = ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    let _ = out.write_all(line.as_bytes());
}

/// The `exited` line, written raw right before the process exits (after the runtime is gone).
pub(crate) fn emit_exited(code: i32) {
    raw_write_stdout(&raw_line(Step::Exited, serde_json::json!({ "code": code })));
}

/// Install the JSON tracing subscriber (stdout, flattened fields).
pub(crate) fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stdout)
        .try_init();
}
