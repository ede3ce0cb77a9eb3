//! Levers are patches over the Deployment settings: the shipped ablation files are `before`
//! with patches applied, code defaults agree with `base.toml`, and `extends` reaches the
//! shipped files from any folder.

use measure::Lever;
use models::{Entrypoint, Fleet, IntOrPercent, OnSigterm, QueueConfig};
use scenarios::{load_file, load_scenario, parse_scenario, shipped};

fn fleet(text: &str) -> Fleet {
    parse_scenario("t.toml", text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .fleet
}

fn levers(on: &[&str]) -> String {
    let mut s = String::from("extends = [\"before.toml\"]\n[levers]\n");
    for l in Lever::ALL {
        s.push_str(&format!("{} = {}\n", l.name(), on.contains(&l.name())));
    }
    s
}

#[test]
fn each_ablation_file_is_before_with_patches_applied() {
    let names: Vec<&str> = Lever::ALL.iter().map(|l| l.name()).collect();
    assert_eq!(
        load_scenario("after").unwrap().fleet,
        fleet(&levers(&names)),
        "after = before + every patch"
    );
    for l in Lever::ALL {
        let alone = load_scenario(&shipped::alone(l)).unwrap().fleet;
        assert_eq!(alone, fleet(&levers(&[l.name()])), "{} alone", l.name());
        let others: Vec<&str> = names.iter().copied().filter(|n| *n != l.name()).collect();
        let without = load_scenario(&shipped::without(l)).unwrap().fleet;
        assert_eq!(
            without,
            fleet(&levers(&others)),
            "after without {}",
            l.name()
        );
        // A patch changes the fleet: each lever stands for at least one setting.
        assert_ne!(
            alone,
            load_scenario("before").unwrap().fleet,
            "{}",
            l.name()
        );
    }
}

#[test]
fn the_patches_set_the_settings_the_live_overlays_set() {
    let before = load_scenario("before").unwrap().fleet;
    assert_eq!(before.container.entrypoint, Entrypoint::Shell);
    assert_eq!(before.rollout.max_surge, IntOrPercent::Int(0));
    assert_eq!(before.rollout.max_unavailable, IntOrPercent::Int(1));
    assert_eq!(before.lifecycle.prestop, None);
    assert_eq!(before.app.on_sigterm, OnSigterm::Exit);
    let after = load_scenario("after").unwrap().fleet;
    assert_eq!(after.container.entrypoint, Entrypoint::Exec);
    assert_eq!(after.effective_fenceposts(), (1, 0));
    assert_eq!(
        after.lifecycle.prestop.map(|p| p.duration()),
        Some(sim_core::SimDuration::from_secs(5))
    );
    assert_eq!(after.app.on_sigterm, OnSigterm::Drain);
    let q = after.queue.as_ref().unwrap();
    assert!(q.release_on_sigterm && q.idempotent);
}

#[test]
fn code_defaults_agree_with_base_toml() {
    let text = shipped::get("base.toml").unwrap();
    let base: Fleet = scenarios::parse_str("base.toml", text)
        .unwrap()
        .deserialize()
        .unwrap();
    let defaults = Fleet {
        queue: Some(QueueConfig::default()),
        ..Fleet::default()
    };
    assert_eq!(base, defaults);
}

#[test]
fn extends_names_shipped_scenarios_from_any_folder() {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("a.toml", "extends = [\"after\"]\n[pod]\nreplicas = 6\n"),
        (
            "b.toml",
            "extends = [\"shipped:after.toml\"]\n[pod]\nreplicas = 6\n",
        ),
    ] {
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        let s = scenarios::from_source(load_file(&p).unwrap()).unwrap();
        let mut want = load_scenario("after").unwrap().fleet;
        want.pod.replicas = 6;
        assert_eq!(s.fleet, want, "{name}");
    }
    // A file of that name next to the extending one wins over the shipped one.
    std::fs::write(d.path().join("after.toml"), "[pod]\nreplicas = 2\n").unwrap();
    let s = scenarios::from_source(load_file(&d.path().join("a.toml")).unwrap()).unwrap();
    assert_eq!(s.fleet.container.entrypoint, Entrypoint::Exec);
    assert_eq!(s.fleet.pod.replicas, 6);
    assert_eq!(s.fleet.rollout.max_unavailable, IntOrPercent::Percent(25));
    // An unknown shipped name says so.
    let e = parse_scenario("x.toml", "extends = [\"shipped:nope\"]\n").unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn a_patch_conflicting_with_an_explicit_setting_names_both() {
    let e = parse_scenario(
        "mine.toml",
        "extends = [\"before.toml\"]\n[levers]\nsurge = true\n[rollout]\nmax_unavailable = \"25%\"\n",
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("lever surge"), "{text}");
    assert!(text.contains("levers/surge.toml"), "{text}");
    assert!(text.contains("mine.toml:5"), "{text}");
    // The same setting inherited from below the file that turns the lever on is patched.
    let f = fleet(
        "extends = [\"mine-base.toml\"]\n[levers]\nsurge = true\n"
            .replace("mine-base.toml", "before.toml")
            .as_str(),
    );
    assert_eq!(f.effective_fenceposts(), (1, 0));
}

#[test]
fn a_file_can_restate_a_levers_patch_with_its_own_values() {
    // A calibration layer with the live cluster's values: the drain patch there drains 8 s
    // under a 12 s guardian instead of the shipped 10 s / 25 s.
    let text = "extends = [\"after.toml\"]\n[patch.drain]\napp = { on_sigterm = \"drain\" }\n\
                drain = { timeout = \"8s\", guardian = \"12s\" }\n";
    let f = fleet(text);
    assert_eq!(f.drain.timeout, sim_core::SimDuration::from_secs(8));
    assert_eq!(f.drain.guardian, sim_core::SimDuration::from_secs(12));
    assert_eq!(f.app.on_sigterm, OnSigterm::Drain);
    // Over before (drain off) the restated patch does nothing: it only says what the lever sets.
    let f = fleet(&text.replace("after.toml", "before.toml"));
    assert_eq!(f.app.on_sigterm, OnSigterm::Exit);
    let e = parse_scenario(
        "x.toml",
        "extends = [\"before.toml\"]\n[patch.drian]\na = 1\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("patch.drian"), "{e}");
}

/// `extends` cannot unset a table a lower layer set: `queue = { kind = "none" }` removes the
/// job queue again (and the requeue lever's queue settings with it), `nodes = { kind = "none" }`
/// the node CPU, `streams = { kind = "none" }` the streams; a setting written beside it, or another kind, is an error naming it.
#[test]
fn kind_none_removes_an_optional_section_a_lower_layer_set() {
    let with_queue = fleet("extends = [\"after.toml\"]\n");
    assert!(with_queue.queue.is_some(), "after.toml's base has a queue");
    let without = fleet("extends = [\"after.toml\"]\nqueue = { kind = \"none\" }\n");
    assert_eq!(without.queue, None);
    // Everything else is the same fleet.
    assert_eq!(
        Fleet {
            queue: None,
            ..with_queue.clone()
        },
        without
    );
    // The requeue lever's HTTP half still acts without a queue.
    assert!(without.app.shed_unfinishable);
    // Node CPU set by a lower layer, removed by the file above it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cpu.toml"),
        "[nodes]\ncount = 2\ncores = 4.0\n",
    )
    .unwrap();
    let top = dir.path().join("top.toml");
    std::fs::write(
        &top,
        "extends = [\"cpu.toml\"]\nnodes = { kind = \"none\" }\n",
    )
    .unwrap();
    let path = top.display().to_string();
    assert_eq!(load_scenario(&path).unwrap().fleet.nodes, None);
    std::fs::write(&top, "extends = [\"cpu.toml\"]\n").unwrap();
    assert!(load_scenario(&path).unwrap().fleet.nodes.is_some());
    // Streams a lower layer holds, removed the same way.
    std::fs::write(dir.path().join("sse.toml"), "[streams]\ncount = 50\n").unwrap();
    std::fs::write(
        &top,
        "extends = [\"sse.toml\"]\nstreams = { kind = \"none\" }\n",
    )
    .unwrap();
    assert_eq!(load_scenario(&path).unwrap().fleet.streams, None);
    std::fs::write(&top, "extends = [\"sse.toml\"]\n").unwrap();
    assert_eq!(
        load_scenario(&path).unwrap().fleet.streams.map(|s| s.count),
        Some(50)
    );
    for (text, path) in [
        (
            "extends = [\"after.toml\"]\n[queue]\nkind = \"none\"\nrate = 2.0\n",
            "queue.rate",
        ),
        (
            "extends = [\"after.toml\"]\nqueue = { kind = \"empty\" }\n",
            "queue.kind",
        ),
    ] {
        let e = parse_scenario("t.toml", text).unwrap_err().to_string();
        assert!(e.contains(path), "{path}: {e}");
    }
}
