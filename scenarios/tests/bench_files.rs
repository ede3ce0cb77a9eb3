//! The large-fleet benchmark scenarios in `scenarios/files/bench/` (run by `scripts/bench-fleet`):
//! each loads and validates, its name is its file name, and it is the fleet the benchmark claims
//! to measure (400 pods at 100,000 req/s, 25% at a time, in the connection style its name says),
//! so the benchmark's figure cannot silently drift to a smaller fleet.

use std::path::{Path, PathBuf};

use scenarios::{load_file, load_scenario};

fn bench_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("files/bench");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bench_scenario_loads_and_is_the_fleet_it_names() {
    let files = bench_files();
    assert_eq!(files.len(), 2, "{files:?}");
    for path in &files {
        let spec = path.to_str().unwrap();
        let scenario = load_scenario(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(scenario.name(), stem, "{spec}: name is not the file name");
        let t = load_file(path).unwrap().table;
        assert_eq!(t["pod"]["replicas"].as_integer(), Some(400), "{spec}");
        assert_eq!(t["load"]["rate"].as_float(), Some(100_000.0), "{spec}");
        assert_eq!(t["rollout"]["max_surge"].as_str(), Some("25%"), "{spec}");
        let style = stem.rsplit('-').next().unwrap();
        assert_eq!(
            t["client"]["connection"].as_str(),
            Some(style),
            "{spec}: client.connection"
        );
    }
}
