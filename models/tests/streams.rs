//! `[streams]`: long-lived streams held through the rollout, cut by a pod that dies and asked to
//! leave by one that drains (as the live generator's `--sse` streams are).

mod common;

use common::*;
use measure::{ShutdownStep, StreamSummary};
use models::{Fleet, Preset, SimRun, StreamReconnect, StreamsConfig};

const STREAMS: u32 = 200;

fn with_streams(mut f: Fleet) -> Fleet {
    f.streams = Some(StreamsConfig {
        count: STREAMS,
        ..StreamsConfig::default()
    });
    f
}

fn streams(r: &SimRun, seed: u64) -> &StreamSummary {
    r.analysis
        .summary
        .streams
        .as_ref()
        .unwrap_or_else(|| panic!("seed {seed}: no streams in the summary"))
}

fn reason(s: &StreamSummary, why: &str) -> u64 {
    s.drops_by_reason.get(why).copied().unwrap_or(0)
}

/// The longest time an old pod took from SIGTERM to its exit.
fn longest_drain_s(r: &SimRun) -> f64 {
    r.shutdowns
        .iter()
        .filter_map(|p| {
            let at = |step| p.steps.iter().find(|(s, _)| *s == step).map(|&(_, t)| t);
            Some((at(ShutdownStep::Exited)? - at(ShutdownStep::SigtermReceived)?) as f64 / 1e9)
        })
        .fold(0.0, f64::max)
}

/// Every stream starts on an old pod, so every stream drops at least once in a rollout: cut
/// (`reset`) by a process that exits at SIGTERM, ended cleanly (`eof`) by one that drains.
/// Either way every stream comes back.
#[test]
fn an_exit_cuts_the_streams_a_drain_ends_them_cleanly() {
    for seed in [71, 72, 73] {
        let exit = run(
            "exit",
            &with_streams(small(with(Levers::NONE, "pid1", true))),
            seed,
        );
        let drain = run("drain", &with_streams(small(Levers::ALL)), seed);
        let (e, d) = (streams(&exit, seed), streams(&drain, seed));
        eprintln!(
            "seed {seed}: exit: {} drops ({} reset), {} failed attempts; drain: {} drops ({} eof)",
            e.drops,
            reason(e, "reset"),
            e.failed_attempts,
            d.drops,
            reason(d, "eof")
        );
        for (name, s, cut) in [("exit", e, true), ("drain", d, false)] {
            assert_eq!(s.streams, u64::from(STREAMS), "seed {seed} {name}");
            assert!(
                s.drops >= u64::from(STREAMS),
                "seed {seed} {name}: {} drops, fewer than the {STREAMS} streams",
                s.drops
            );
            let (bad, good) = if cut {
                ("eof", "reset")
            } else {
                ("reset", "eof")
            };
            assert_eq!(reason(s, bad), 0, "seed {seed} {name}: {s:?}");
            assert_eq!(reason(s, good), s.drops, "seed {seed} {name}: {s:?}");
            assert_eq!(s.never_reconnected, 0, "seed {seed} {name}: {s:?}");
            // Each stream's first open, then one open after each drop.
            assert_eq!(s.opens, u64::from(STREAMS) + s.drops, "seed {seed} {name}");
        }
        // Drained pods left every balancer's view before they closed anything: the streams
        // come back at the first attempt, within the default backoff after a drop (uniform
        // in [0, 100 ms]) and a connection set-up. Pods that exit at SIGTERM are still in the
        // view: reconnects land on them, are refused, and back off.
        let max = d.reconnect_ms_max.expect("reconnects");
        assert!(max <= 110.0, "seed {seed} drain: reconnect {max} ms");
        assert_eq!(d.failed_attempts, 0, "seed {seed} drain: {d:?}");
        assert!(e.failed_attempts > 0, "seed {seed} exit: {e:?}");
    }
}

/// A drain's jitter window spreads the streams' ends over the window, and a stream holds its
/// pod until the drain ends it: the old pods' drains last about the window, where without
/// streams (new connections only) nothing holds them.
#[test]
fn the_jitter_window_spreads_the_ends_and_streams_hold_their_pod() {
    let fleet = |window: u64, streams: bool| {
        let mut f = small(Levers::ALL);
        f.drain.jitter_window = secs(window);
        if streams { with_streams(f) } else { f }
    };
    for seed in [74, 75] {
        let short = run("2s", &fleet(2, true), seed);
        let long = run("8s", &fleet(8, true), seed);
        let none = run("none", &fleet(8, false), seed);
        let peak = |r: &SimRun| {
            streams(r, seed)
                .drop_times
                .as_ref()
                .expect("drop times")
                .peak_per_100ms
        };
        let (ps, pl) = (peak(&short), peak(&long));
        let (ds, dl, dn) = (
            longest_drain_s(&short),
            longest_drain_s(&long),
            longest_drain_s(&none),
        );
        eprintln!(
            "seed {seed}: peak drops per 100 ms: 2 s {ps}, 8 s {pl}; longest drain: {ds:.2} / {dl:.2} / {dn:.2} s"
        );
        assert!(
            pl < ps,
            "seed {seed}: an 8 s window peaks at {pl} per 100 ms, 2 s at {ps}"
        );
        // ~50 streams per old pod spread uniformly: the last ends near the window's end.
        assert!(
            (1.5..=2.5).contains(&ds),
            "seed {seed}: longest drain {ds} s with a 2 s window"
        );
        assert!(
            (7.0..=8.5).contains(&dl),
            "seed {seed}: longest drain {dl} s with an 8 s window"
        );
        assert!(
            dn < 1.0,
            "seed {seed}: longest drain {dn} s without streams"
        );
        for r in [&short, &long] {
            assert_eq!(reason(streams(r, seed), "reset"), 0, "seed {seed}");
        }
    }
}

/// A budget shorter than the jitter window cuts the streams still open when the guardian
/// fires: the short-budget contrast of the live 600 s experiment.
#[test]
fn a_guardian_inside_the_jitter_window_cuts_the_streams_left() {
    for seed in [76, 77] {
        let mut f = with_streams(small(Levers::ALL));
        f.drain.jitter_window = secs(8);
        f.drain.guardian = secs(4);
        let r = run("short-budget", &f, seed);
        let s = streams(&r, seed);
        let (eof, reset) = (reason(s, "eof"), reason(s, "reset"));
        eprintln!("seed {seed}: {eof} eof, {reset} reset");
        // The guardian fires 4 s into an 8 s window: about half of each pod's streams are cut.
        assert!(
            eof > 0 && reset > 0,
            "seed {seed}: {eof} eof and {reset} reset"
        );
        let share = reset as f64 / (eof + reset) as f64;
        assert!(
            (0.3..=0.7).contains(&share),
            "seed {seed}: {reset} of {} drops cut",
            eof + reset
        );
        assert!(
            r.shutdowns
                .iter()
                .any(|p| p.exit_code == Some(models::EXIT_GUARDIAN)),
            "seed {seed}: no pod exited by the guardian"
        );
    }
}

/// Through an L7 proxy a stream rides an upstream connection the pod's drain ends cleanly too.
#[test]
fn streams_through_an_l7_proxy_end_cleanly_on_a_drain() {
    let seed = 78;
    let mut f = with_streams(small(Levers::ALL));
    f.balancer.preset = Preset::IngressNginx;
    let r = run("nginx", &f, seed);
    let s = streams(&r, seed);
    assert!(s.drops >= u64::from(STREAMS), "seed {seed}: {s:?}");
    assert_eq!(reason(s, "reset"), 0, "seed {seed}: {s:?}");
    assert_eq!(s.never_reconnected, 0, "seed {seed}: {s:?}");
}

/// `immediate` reconnects at once after a drop (the drop and the next attempt coincide; the
/// open follows one connection set-up later).
#[test]
fn an_immediate_reconnect_comes_back_within_a_connection_set_up() {
    let seed = 79;
    let mut f = with_streams(small(Levers::ALL));
    f.streams.as_mut().unwrap().reconnect = StreamReconnect::Immediate;
    let r = run("immediate", &f, seed);
    let s = streams(&r, seed);
    let max = s.reconnect_ms_max.expect("reconnects");
    // Two round trips of 0.5 ms (handshake, request and headers).
    assert!(max <= 2.0, "seed {seed}: reconnect up to {max} ms");
    assert_eq!(s.never_reconnected, 0);
}

/// No `[streams]`, no `streams` in the summary (and no key in its JSON).
#[test]
fn a_fleet_without_streams_has_no_stream_figures() {
    let r = run("none", &small(Levers::ALL), 80);
    assert!(r.analysis.summary.streams.is_none());
    let json = serde_json::to_string(&r.analysis.summary).unwrap();
    assert!(!json.contains("streams"), "{json}");
}

#[test]
fn the_same_seed_gives_the_same_streams() {
    let f = with_streams(small_keepalive(Levers::ALL));
    let (a, b) = (run("a", &f, 81), run("b", &f, 81));
    assert_eq!(a.analysis.summary.streams, b.analysis.summary.streams);
    assert_eq!(a.digest, b.digest);
}

#[test]
fn bad_stream_settings_are_errors_naming_the_field() {
    type Set = fn(&mut StreamsConfig);
    let cases: [(Set, &str); 4] = [
        (|s| s.count = 0, "streams.count"),
        (
            |s| {
                s.reconnect = StreamReconnect::Immediate;
                s.backoff_base = Some(ms(50));
            },
            "streams.backoff_base",
        ),
        (
            |s| {
                s.backoff_base = Some(secs(10));
                s.backoff_max = Some(secs(5));
            },
            "streams.backoff_base",
        ),
        (|s| s.backoff_max = Some(secs(7200)), "streams.backoff_max"),
    ];
    for (set, field) in cases {
        let mut f = with_streams(small(Levers::ALL));
        set(f.streams.as_mut().unwrap());
        let errors = f.validate().expect_err(field);
        assert!(
            errors.iter().any(|e| e.path == field),
            "{field}: {errors:?}"
        );
    }
}

/// Behind a Linkerd proxy a stream is a response in flight: the proxy's refusal at deletion
/// leaves it running, and the application's drain ends it (after the 5 s preStop), not the
/// proxy.
#[test]
fn a_linkerd_proxy_lets_a_stream_run_until_the_app_ends_it() {
    let seed = 82;
    let mut f = with_streams(small(Levers::ALL));
    f.balancer.sidecar = Some(models::Sidecar::Linkerd);
    let r = run("linkerd-streams", &f, seed);
    let s = streams(&r, seed);
    assert_eq!(reason(s, "reset"), 0, "seed {seed}: {s:?}");
    let first = s
        .drop_times
        .as_ref()
        .and_then(|d| d.first_s)
        .expect("drops");
    let first_deletion = r
        .shutdowns
        .iter()
        .map(|p| p.deleted_ns)
        .min()
        .expect("deletions") as f64
        / 1e9;
    assert!(
        first >= first_deletion + 5.0,
        "seed {seed}: first drop at {first} s, first deletion at {first_deletion} s"
    );
}
