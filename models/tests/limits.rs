//! Issue 13, items 1 and 2: every duration and count has a bound checked at validation time (the
//! error names the field, its value and the bound), draws are capped so the clock cannot
//! overflow, and a run's size is bounded (an estimate before the run, caps during it).

use sim_core::SimDuration;

use models::{Fleet, RunCaps, SimError, SimOptions, limits, simulate, simulate_capped};

fn fleet(text: &str) -> Fleet {
    toml::from_str::<Fleet>(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// `extra` on a short, cheap run: 2 pods, 1 s of baseline, 20 req/s (unless `extra` sets the
/// rate).
fn short(extra: &str) -> Fleet {
    let mut f = fleet(extra);
    f.run.baseline = SimDuration::from_secs(1);
    f.run.tail = SimDuration::from_secs(1);
    f.run.max_duration = SimDuration::from_secs(60);
    if !extra.contains("rate = 1e-300") {
        f.load.rate = 20.0;
    }
    f.pod.replicas = 2;
    f
}

fn errors(f: &Fleet) -> Vec<String> {
    match f.validate() {
        Ok(()) => Vec::new(),
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
    }
}

/// Each field the issue reported (a duration that made the simulator's clock wrap and panic)
/// is now refused at validation, naming the field, the value and the limit.
#[test]
fn too_long_durations_are_refused_naming_field_and_limit() {
    let huge = "5000000h"; // 1.8e19 ns: parses (fits u64) and wrapped the clock before
    let cases: &[(&str, &str)] = &[
        ("[queue]\nlease = \"{}\"\n", "queue.lease"),
        ("[pod]\nservice_time = \"{}\"\n", "pod.service_time"),
        ("[rollout]\nmin_ready = \"{}\"\n", "rollout.min_ready"),
        ("[pod]\nstartup = \"{}\"\n", "pod.startup"),
        (
            "[propagation]\nendpointslice = \"{}\"\n",
            "propagation.endpointslice",
        ),
        ("[pod.readiness]\nperiod = \"{}\"\n", "pod.readiness.period"),
        (
            "[pod.readiness]\ninitial_delay = \"{}\"\n",
            "pod.readiness.initial_delay",
        ),
        ("[run]\ntail = \"{}\"\n", "run.tail"),
        (
            "[app]\non_sigterm = \"drain\"\n[drain]\ntimeout = \"{}\"\n",
            "drain.timeout",
        ),
        ("[drain]\nguardian = \"{}\"\n", "drain.guardian"),
        ("[queue]\nduration = \"{}\"\n", "queue.duration"),
        ("[run]\nsettle = \"{}\"\n", "run.settle"),
        ("[load]\ndeadline = \"{}\"\n", "load.deadline"),
        ("[client]\nrtt = \"{}\"\n", "client.rtt"),
        ("[server]\nidle_timeout = \"{}\"\n", "server.idle_timeout"),
        (
            "[balancer]\npreset = \"ingress_nginx\"\nupstream_timeout = \"{}\"\n",
            "balancer.upstream_timeout",
        ),
    ];
    for (text, path) in cases {
        let f = fleet(&text.replace("{}", huge));
        let errs = errors(&f);
        let hit = errs.iter().find(|e| e.starts_with(&format!("{path}:")));
        let hit = hit.unwrap_or_else(|| panic!("{path} = {huge} accepted; errors: {errs:?}"));
        assert!(hit.contains("above the limit"), "{hit}");
    }
    let f =
        short("[pod.service_time]\nkind = \"lognormal\"\nmedian = \"10ms\"\np99 = \"5000000h\"\n");
    let errs = errors(&f);
    assert!(
        errs.iter()
            .any(|e| e.starts_with("pod.service_time: lognormal: p99") && e.contains("limit")),
        "{errs:?}"
    );
}

/// A heavy tail within the bounds (p99 a day, median a nanosecond: some draws far beyond any
/// u64 of nanoseconds before the cap) runs to the end without a panic.
#[test]
fn heavy_tailed_draws_do_not_overflow_the_clock() {
    for field in [
        "pod.service_time",
        "pod.startup",
        "propagation.endpointslice",
    ] {
        let (section, key) = field.rsplit_once('.').unwrap();
        let f = short(&format!(
            "[{section}.{key}]\nkind = \"lognormal\"\nmedian = \"1ns\"\np99 = \"24h\"\n\
             [queue]\nrate = 5.0\nlease = \"24h\"\n\
             [queue.duration]\nkind = \"lognormal\"\nmedian = \"1ns\"\np99 = \"24h\"\n"
        ));
        assert_eq!(errors(&f), Vec::<String>::new(), "{field}");
        for seed in 0..3 {
            let run = simulate(
                "heavy",
                &f,
                &SimOptions {
                    seed,
                    shuffle_ties: false,
                },
            );
            assert!(run.is_ok(), "{field}, seed {seed}: {:?}", run.err());
        }
    }
    // A rate so low that its first gap saturates the clock.
    let f = short("[load]\nrate = 1e-300\n[queue]\nrate = 1e-300\n");
    simulate("slow", &f, &SimOptions::default()).expect("seed 0");
}

/// The resource reproductions: each is refused before the run with the fields and the limit.
#[test]
fn runs_too_large_for_memory_or_time_are_refused_before_they_start() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[run]\nbucket = \"1us\"\n",
            "run.bucket",
            "below the limit 1ms",
        ),
        (
            "[run]\nbucket = \"1ms\"\n",
            "run.bucket",
            "timeline buckets, above the limit 100000",
        ),
        (
            "[client]\npool = 4294967295\n",
            "client.pool",
            "above the limit 100000",
        ),
        (
            "[load]\nrate = 1e6\n",
            "load.rate",
            "above the limit of 20000000 per run",
        ),
        (
            "[pod.readiness]\nperiod = \"1ns\"\n",
            "pod.readiness.period",
            "below the limit 1ms",
        ),
        (
            "[rollout]\nmax_surge = 4294967295\n",
            "rollout.max_surge",
            "above the limit 1000",
        ),
    ];
    for (text, path, words) in cases {
        let errs = errors(&fleet(text));
        assert!(
            errs.iter()
                .any(|e| e.starts_with(&format!("{path}:")) && e.contains(words)),
            "{text}: want {path}: ..{words}..; got {errs:?}"
        );
    }
    // 1 ms buckets are fine over a short run.
    let mut f = short("");
    f.run.bucket = SimDuration::from_millis(1);
    assert_eq!(errors(&f), Vec::<String>::new());
    assert_eq!(limits::MAX_BUCKETS, 100_000);
}

/// During the run: past a cap the run stops with [`SimError::Limit`] naming the fields.
#[test]
fn a_run_past_its_caps_stops_with_an_error_naming_the_fields() {
    let f = short("");
    let opts = SimOptions {
        seed: 4,
        shuffle_ties: false,
    };
    let big = u64::MAX;
    let cases = [
        (
            RunCaps {
                requests: 10,
                jobs: big,
                events: big,
            },
            "load.rate",
        ),
        (
            RunCaps {
                requests: big,
                jobs: big,
                events: 500,
            },
            "events, above the limit of 500 ",
        ),
    ];
    for (caps, words) in cases {
        match simulate_capped("capped", &f, &opts, &caps) {
            Err(e @ SimError::Limit { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(words) && msg.contains("seed 4"), "{msg}");
            }
            other => panic!("{caps:?}: {:?}", other.map(|r| r.events)),
        }
    }
    let q = short("[queue]\nrate = 50.0\n");
    let caps = RunCaps {
        requests: big,
        jobs: 20,
        events: big,
    };
    let e = simulate_capped("capped", &q, &opts, &caps)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("jobs published") && e.contains("queue.rate"),
        "{e}"
    );
    // The real caps leave the run alone.
    simulate("uncapped", &f, &opts).expect("seed 4");
}
