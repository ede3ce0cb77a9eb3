//! The validation scenarios in `scenarios/files/validation/`: one per overlay and connection
//! style, each stacking a shipped lever file, the cluster layer and the calibration layer that
//! `fleetsim calibrate` rewrites. Every scenario file there loads and validates, its name is its
//! file name, and the two layers are what the scenarios extend.

use std::path::{Path, PathBuf};

use scenarios::{load_file, load_scenario};

/// The layers: not scenarios on their own, only extended by the scenario files.
const LAYERS: [&str; 2] = ["cluster.toml", "calibration.toml"];

fn validation_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("files/validation")
}

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(validation_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| !LAYERS.iter().any(|l| p.ends_with(l)))
        .collect();
    files.sort();
    files
}

#[test]
fn every_validation_scenario_loads_and_validates() {
    let files = scenario_files();
    // Seven overlays (before, after and the five levers alone) times two connection styles.
    assert_eq!(files.len(), 14, "{files:?}");
    for path in &files {
        let spec = path.to_str().unwrap();
        let scenario = load_scenario(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(scenario.name(), stem, "{spec}: name is not the file name");
        let source = load_file(path).unwrap();
        for layer in LAYERS {
            assert!(
                source.files.iter().any(|f| f.ends_with(layer)),
                "{spec} does not extend {layer}: {:?}",
                source.files
            );
        }
        let style = if stem.ends_with("-keepalive") {
            "keepalive"
        } else {
            "new"
        };
        assert_eq!(
            source.table["client"]["connection"].as_str(),
            Some(style),
            "{spec}: client.connection"
        );
    }
}
