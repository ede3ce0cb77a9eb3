//! Random valid scenarios: no panic, no conservation failure.

use proptest::prelude::*;
use scenarios::{parse_scenario, simulate_seed};

fn scenario() -> impl Strategy<Value = String> {
    let levers = proptest::array::uniform5(any::<bool>());
    let preset = prop_oneof![
        Just("kube_proxy_iptables"),
        Just("ingress_nginx"),
        Just("envoy_sidecar"),
    ];
    let connection = prop_oneof![Just("new"), Just("keepalive")];
    (
        levers,
        preset,
        connection,
        1u32..6,
        20u32..300,
        0u64..8_000,
        5u64..40,
        2u64..15,
        0u32..4,
        1u32..10,
        any::<u64>(),
    )
        .prop_map(
            |(l, preset, conn, replicas, rate, prestop_ms, grace_s, drain_s, qrate, pool, seed)| {
                let queue = if qrate == 0 {
                    String::new()
                } else {
                    format!(
                        "[queue]\nrate = {qrate}.0\nrelease_on_sigterm = {}\nidempotent = {}\n",
                        l[3], l[3]
                    )
                };
                format!(
                    "extends = [\"before.toml\"]\n\
                     [run]\nbaseline = \"3s\"\n\
                     [load]\nrate = {rate}.0\n\
                     [client]\nconnection = \"{conn}\"\npool = {pool}\n\
                     [balancer]\npreset = \"{preset}\"\n\
                     [pod]\nreplicas = {replicas}\n\
                     [container]\nentrypoint = \"{}\"\n\
                     [lifecycle]\nprestop = \"{prestop_ms}ms\"\ngrace_period = \"{grace_s}s\"\n\
                     [app]\non_sigterm = \"{}\"\nfail_readiness = {}\n\
                     [server]\nmax_requests = {}\n\
                     [drain]\ntimeout = \"{drain_s}s\"\njitter_window = \"{}s\"\n\
                     {queue}\
                     [rollout]\nmax_surge = {}\nmax_unavailable = {}\n\
                     # seed {seed}\n",
                    if l[0] { "exec" } else { "shell" },
                    if l[2] { "drain" } else { "exit" },
                    l[1],
                    pool * 3,
                    u32::from(l[4]),
                    u32::from(l[4]),
                    u32::from(!l[4]),
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_scenarios_run_conserved(text in scenario()) {
        let s = parse_scenario("random.toml", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let seed = text.rsplit("# seed ").next().unwrap().trim().parse::<u64>().unwrap();
        let run = simulate_seed("random", &s.fleet, seed, false)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let sum = &run.analysis.summary;
        prop_assert!(sum.requests.is_conserved());
        prop_assert!(sum.jobs.is_conserved());
        prop_assert_eq!(sum.failed, sum.requests.failed());
    }
}
