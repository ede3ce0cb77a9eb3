//! Prints the headline figures of a few fleets (a development aid).
use models::{ConnectionStyle, Fleet, IntOrPercent, Levers, SimOptions, simulate};

fn main() {
    let style = std::env::args().nth(1).unwrap_or_else(|| "new".into());
    let mut base = Fleet::default();
    if style == "keepalive" {
        base.client.connection = ConnectionStyle::Keepalive;
    }
    match style.as_str() {
        "nginx" => base.balancer.preset = models::Preset::IngressNginx,
        "envoy" => base.balancer.preset = models::Preset::EnvoySidecar,
        "cloud" => base.balancer.preset = models::Preset::CloudLb,
        _ => {}
    }
    base.rollout.max_surge = IntOrPercent::Int(1);
    base.rollout.max_unavailable = IntOrPercent::Int(0);
    let mut cases: Vec<(String, Levers)> = vec![
        ("before".into(), Levers::NONE),
        ("after".into(), Levers::ALL),
    ];
    for lever in measure::Lever::ALL {
        let mut l = Levers::ALL;
        l.set(lever, false);
        cases.push((format!("after-{lever}"), l));
    }
    for (name, levers) in cases {
        let mut f = base.clone();
        f.levers = levers;
        let t = std::time::Instant::now();
        let r = simulate(
            &name,
            &f,
            &SimOptions {
                seed: 1,
                shuffle_ties: false,
            },
        )
        .unwrap();
        let s = &r.analysis.summary;
        let mechs: Vec<String> = r
            .failures_by_mechanism
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        println!(
            "{name:16} sent={} failed={} p99={:?} dip={:?} jobs={:?} window={:?} events={} {:.1}ms  {}",
            s.requests.sent,
            s.failed,
            s.latency_ms.window.p99,
            s.capacity_dip,
            (
                s.jobs.published,
                s.jobs.duplicated,
                s.jobs.lost,
                s.jobs.pending
            ),
            s.window_s,
            r.events,
            t.elapsed().as_secs_f64() * 1e3,
            mechs.join(" ")
        );
    }
}
