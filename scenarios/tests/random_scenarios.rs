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
                format!(
                    "extends = [\"before.toml\"]\n\
                     [run]\nbaseline = \"3s\"\n\
                     [load]\nrate = {rate}.0\n\
                     [client]\nconnection = \"{conn}\"\npool = {pool}\n\
                     [balancer]\npreset = \"{preset}\"\n\
                     [pod]\nreplicas = {replicas}\n\
                     [lifecycle]\nprestop = \"{prestop_ms}ms\"\ngrace_period = \"{grace_s}s\"\n\
                     [drain]\ntimeout = \"{drain_s}s\"\njitter_window = \"1s\"\n\
                     [queue]\nrate = {qrate}.0\n\
                     [levers]\npid1 = {}\nreadiness = {}\ndrain = {}\nrequeue = {}\nsurge = {}\n\
                     # seed {seed}\n",
                    l[0], l[1], l[2], l[3], l[4]
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
