//! `client.eager_reconnect`: keep-alive clients that reopen a connection the moment the server
//! closes it (as `fleetsim load --eager-reconnect`), against the default lazy clients that
//! reconnect at their next request.

mod common;

use common::*;
use models::{ConnectionStyle, Fleet, Preset, SimRun};

const CLIENTS: u32 = 600;

/// 600 keep-alive clients at 60 req/s, so each client sends every 10 s (as the live storm
/// runs: 2,000 clients at 200 req/s); 4 pods, drain on, surge off, closes at once. The baseline
/// is long enough for every client to hold a connection before the roll.
fn storm_fleet(eager: bool) -> Fleet {
    let mut f = small_keepalive(with(Levers::ALL, "surge", false));
    f.load.rate = 60.0;
    f.load.arrivals = models::Arrivals::Constant;
    f.client.pool = CLIENTS;
    f.client.eager_reconnect = eager;
    f.pod.service_time = sim_core::Dist::constant(ms(1));
    f.run.baseline = secs(12);
    f.queue = None;
    f
}

/// The window's fine buckets (10 ms).
fn window_buckets(r: &SimRun) -> &[u64] {
    let from = (r.marks.rollout_start_ns / 10_000_000) as usize;
    let to = ((r.analysis.summary.window_s[1] * 100.0) as usize).min(r.analysis.reconnects.len());
    &r.analysis.reconnects[from..to]
}

fn peak(r: &SimRun) -> u64 {
    window_buckets(r).iter().copied().max().unwrap_or(0)
}

fn total(r: &SimRun) -> u64 {
    r.analysis.reconnects.iter().sum()
}

/// Un-jittered, a drain closes a pod's ~150 idle connections at once: eager clients are back
/// within one 10 ms bucket; lazy ones come back with their next requests, spread over 10 s.
#[test]
fn eager_clients_turn_a_drain_into_a_storm_lazy_ones_do_not() {
    for seed in [61, 62, 63] {
        let eager = run("eager", &storm_fleet(true), seed);
        let lazy = run("lazy", &storm_fleet(false), seed);
        let (pe, pl) = (peak(&eager), peak(&lazy));
        eprintln!("seed {seed}: peak new connections per 10 ms: eager {pe}, lazy {pl}");
        // ~CLIENTS / 4 pods open on each old pod when its drain starts (a binomial draw).
        assert!(
            pe >= 100,
            "seed {seed}: eager peak {pe} per 10 ms, expected near the ~150 closed at once"
        );
        assert!(
            pl <= 5,
            "seed {seed}: lazy peak {pl} per 10 ms (60 req/s is 0.6 requests per bucket)"
        );
        // The same requests, the same outcomes' shape: eager reopens add connections, and the
        // lazy reopens stay (a reopen lands on a client whose idle list still holds the closed
        // connection, so the client closes it at once and its next request opens its own, as
        // the generator's put_idle does).
        let extra = total(&eager).saturating_sub(total(&lazy));
        assert!(
            extra >= u64::from(CLIENTS) * 9 / 10,
            "seed {seed}: eager opened {} connections, lazy {}: at least one reopen per client \
             expected",
            total(&eager),
            total(&lazy)
        );
    }
}

/// The jitter window spreads the closes, and with them the eager reopens.
#[test]
fn jitter_flattens_the_eager_storm() {
    for seed in [71, 72, 73] {
        let at_once = storm_fleet(true);
        let mut jittered = at_once.clone();
        jittered.drain.jitter_window = secs(3);
        let (a, j) = (
            peak(&run("at-once", &at_once, seed)),
            peak(&run("jittered", &jittered, seed)),
        );
        eprintln!("seed {seed}: eager peak per 10 ms: at once {a}, jittered over 3 s {j}");
        assert!(
            j * 5 < a,
            "seed {seed}: eager peak per 10 ms, jittered {j} vs at once {a}"
        );
    }
}

/// The reopen waits for nothing: its handshake completes one round trip after the client saw
/// the close (two hops after the server closed), so the storm sits in the drain's own bucket or
/// the next one, whatever the request schedule.
#[test]
fn the_reopen_storm_lands_within_a_round_trip_of_the_drain() {
    let seed = 81;
    let r = run("eager", &storm_fleet(true), seed);
    let w = window_buckets(&r);
    let (i, &p) = w.iter().enumerate().max_by_key(|&(_, &n)| n).unwrap();
    // The bucket right before the peak holds almost nothing: no ramp, a cliff.
    let before = if i > 0 { w[i - 1] } else { 0 };
    assert!(
        before * 10 <= p,
        "seed {seed}: {before} in the bucket before the peak of {p}"
    );
}

/// A server idle timeout shorter than the clients' request interval closes idle connections
/// with no deploy at all: eager clients reopen each one (and their next request opens again),
/// lazy clients only reconnect at their next request. The timeout is a real event for eager
/// clients, not found lazily.
#[test]
fn server_idle_timeout_closes_are_reopened_by_eager_clients() {
    for seed in [91, 92] {
        let mut eager = storm_fleet(true);
        eager.server.idle_timeout = Some(secs(3));
        let mut lazy = eager.clone();
        lazy.client.eager_reconnect = false;
        let (te, tl) = (
            total(&run("eager", &eager, seed)),
            total(&run("lazy", &lazy, seed)),
        );
        eprintln!("seed {seed}: idle timeout 3 s: new connections eager {te}, lazy {tl}");
        assert!(
            te * 10 >= tl * 18,
            "seed {seed}: eager {te} vs lazy {tl}: every idle close should add a reopen"
        );
    }
}

#[test]
fn eager_runs_are_deterministic() {
    let f = storm_fleet(true);
    let (a, b) = (run("eager", &f, 5), run("eager", &f, 5));
    assert_eq!(a.digest, b.digest, "seed 5");
    assert_eq!(a.analysis, b.analysis, "seed 5");
}

/// The fleet's validation errors, joined; panics if it validates.
fn validation_errors(f: &Fleet) -> String {
    let e = f.validate().unwrap_err();
    e.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn eager_reconnect_is_refused_where_there_is_nothing_to_reopen() {
    let mut f = storm_fleet(true);
    f.client.connection = ConnectionStyle::New;
    let e = validation_errors(&f);
    assert!(
        e.contains("client.eager_reconnect") && e.contains("keep-alive"),
        "{e}"
    );

    let mut f = storm_fleet(true);
    f.balancer.preset = Preset::Traefik;
    let e = validation_errors(&f);
    assert!(
        e.contains("client.eager_reconnect") && e.contains("L7 proxy"),
        "{e}"
    );
}

/// Off, the field is not serialized, so a resolved fleet reads as it did before the setting
/// existed; on, it is.
#[test]
fn eager_reconnect_is_serialized_only_when_on() {
    let off = serde_json::to_string(&storm_fleet(false)).unwrap();
    assert!(!off.contains("eager_reconnect"), "{off}");
    let on = serde_json::to_string(&storm_fleet(true)).unwrap();
    assert!(on.contains("\"eager_reconnect\":true"), "{on}");
}

/// `client.eager_reopen_rate`: the reopens queue behind one serial opener, so a drain that
/// closes ~150 idle connections at once (jitter off) gets them back at most 10 ms x rate (+1)
/// per 10 ms bucket, and every reopen still happens: the total is the same, run for run.
#[test]
fn a_reopen_rate_bounds_the_storm_and_keeps_every_reopen() {
    for (seed, rate) in [(101, 2_000.0), (102, 5_000.0), (103, 1_000.0)] {
        let free = storm_fleet(true);
        let mut paced = free.clone();
        paced.client.eager_reopen_rate = Some(rate);
        paced.validate().unwrap();
        let (f, p) = (run("free", &free, seed), run("paced", &paced, seed));
        let bound = (0.010 * rate) as u64 + 1;
        eprintln!(
            "seed {seed}, rate {rate}/s: peak per 10 ms free {}, paced {} (bound {bound}); \
             total free {}, paced {}",
            peak(&f),
            peak(&p),
            total(&f),
            total(&p)
        );
        // Without the cost the storm is far above the bound (the test can fail).
        assert!(peak(&f) > 2 * bound, "seed {seed}: free peak {}", peak(&f));
        // The curve also counts opens by requests (60 req/s, ~0.6 per bucket, nearly all
        // reusing their connection): none shares a storm bucket in these seeds.
        assert!(
            peak(&p) <= bound,
            "seed {seed}: paced peak {} per 10 ms above 10 ms x {rate}/s + 1 = {bound}",
            peak(&p)
        );
        assert_eq!(
            total(&p),
            total(&f),
            "seed {seed}: the pacing moved reopens, it must not add or lose any"
        );
        // The storm lasts at least K / rate: the bucket count holding reopens grows.
        let busy = |r: &SimRun| window_buckets(r).iter().filter(|&&n| n > 2).count();
        assert!(
            busy(&p) > busy(&f),
            "seed {seed}: paced storm spread over {} buckets, free over {}",
            busy(&p),
            busy(&f)
        );
    }
}

/// The opener's queue is world state: runs with it are as deterministic as without.
#[test]
fn paced_runs_are_deterministic() {
    let mut f = storm_fleet(true);
    f.client.eager_reopen_rate = Some(3_000.0);
    let (a, b) = (run("paced", &f, 7), run("paced", &f, 7));
    assert_eq!(a.digest, b.digest, "seed 7");
    assert_eq!(a.analysis, b.analysis, "seed 7");
}

#[test]
fn eager_reopen_rate_needs_eager_reconnect_and_a_positive_rate() {
    let mut f = storm_fleet(false);
    f.client.eager_reopen_rate = Some(24_000.0);
    let e = validation_errors(&f);
    assert!(
        e.contains("client.eager_reopen_rate") && e.contains("client.eager_reconnect"),
        "{e}"
    );
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9] {
        let mut f = storm_fleet(true);
        f.client.eager_reopen_rate = Some(bad);
        let e = validation_errors(&f);
        assert!(e.contains("client.eager_reopen_rate"), "{bad}: {e}");
    }
    let mut f = storm_fleet(true);
    f.client.eager_reopen_rate = Some(24_000.0);
    f.validate().unwrap();
}

/// Absent, the field is not serialized (every earlier result reads as before); set, it is, and
/// a scenario file sets it.
#[test]
fn eager_reopen_rate_is_serialized_only_when_set() {
    let off = serde_json::to_string(&storm_fleet(true)).unwrap();
    assert!(!off.contains("eager_reopen_rate"), "{off}");
    let mut f = storm_fleet(true);
    f.client.eager_reopen_rate = Some(24_000.0);
    let on = serde_json::to_string(&f).unwrap();
    assert!(on.contains("\"eager_reopen_rate\":24000.0"), "{on}");
    let back: Fleet = serde_json::from_str(&on).unwrap();
    assert_eq!(back.client.eager_reopen_rate, Some(24_000.0));
}

/// `drain.close_rate`: the drain works through its idle connections one after another, so a
/// drain that closes ~150 at once (jitter off) closes at most 10 ms x rate (+1) per 10 ms, and
/// eager clients, reopening each as it closes, come back no faster.
#[test]
fn a_close_rate_spreads_the_drain_and_the_storm_with_it() {
    for (seed, rate) in [(121, 2_000.0), (122, 5_000.0)] {
        let free = storm_fleet(true);
        let mut paced = free.clone();
        paced.drain.close_rate = Some(rate);
        paced.validate().unwrap();
        let (f, p) = (run("free", &free, seed), run("closes-paced", &paced, seed));
        let bound = (0.010 * rate) as u64 + 1;
        assert!(peak(&f) > 2 * bound, "seed {seed}: free peak {}", peak(&f));
        // One reopen per close, plus at most one request's open in the same bucket.
        assert!(
            peak(&p) <= bound + 1,
            "seed {seed}: peak {} per 10 ms above 10 ms x {rate}/s + 1 = {bound} (+1)",
            peak(&p)
        );
        // Every closed connection is still reopened; pacing moves the closes in time, so a
        // few requests meet their connection before or after its close and open one
        // differently: the totals agree within 1%.
        let (tp, tf) = (total(&p) as f64, total(&f) as f64);
        assert!(
            (tp - tf).abs() <= 0.01 * tf,
            "seed {seed}: {tp} new connections paced, {tf} free"
        );
    }
    // Deterministic, and only where the closes are not already jittered, only for a draining
    // application, only a positive rate: errors naming the field.
    let mut f = storm_fleet(true);
    f.drain.close_rate = Some(4_000.0);
    let (a, b) = (run("closes-paced", &f, 7), run("closes-paced", &f, 7));
    assert_eq!(a.digest, b.digest, "seed 7");
    let mut jittered = f.clone();
    jittered.drain.jitter_window = secs(2);
    assert!(validation_errors(&jittered).contains("drain.close_rate"));
    let mut exits = f.clone();
    exits.app.on_sigterm = models::OnSigterm::Exit;
    assert!(validation_errors(&exits).contains("drain.close_rate"));
    for bad in [0.0, -5.0, f64::NAN] {
        let mut g = f.clone();
        g.drain.close_rate = Some(bad);
        assert!(validation_errors(&g).contains("drain.close_rate"), "{bad}");
    }
    let json = serde_json::to_string(&storm_fleet(true)).unwrap();
    assert!(!json.contains("close_rate"), "{json}");
}
