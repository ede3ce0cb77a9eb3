//! The validation scenarios in `scenarios/files/validation/`: one per overlay and connection
//! style, each stacking a shipped lever file, the cluster layer and the calibration layer that
//! `fleetsim calibrate` rewrites. Every scenario file there loads and validates, its name is its
//! file name, and the two layers are what the scenarios extend.

use std::path::{Path, PathBuf};

use scenarios::{load_file, load_scenario};

/// The layers: not scenarios on their own, only extended by the scenario files.
const LAYERS: [&str; 2] = ["cluster.toml", "calibration.toml"];

/// Layers of the cluster's kube-proxy that the third-party loop adds to its calibration
/// (`scripts/third-party-loop`): not extended by the scenario files here.
const KUBE_PROXY_LAYERS: [&str; 2] = ["kube-proxy-lag.toml", "kube-proxy-sync.toml"];

fn validation_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("files/validation")
}

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(validation_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| {
            !LAYERS
                .iter()
                .chain(&KUBE_PROXY_LAYERS)
                .any(|l| p.ends_with(l))
        })
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

/// Each kube-proxy layer stacks on a validation scenario, validates, and sets what it says.
#[test]
fn kube_proxy_layers_stack_on_a_validation_scenario() {
    let dir = tempfile::tempdir().unwrap();
    for layer in KUBE_PROXY_LAYERS {
        let top = dir.path().join(format!("with-{layer}"));
        std::fs::write(
            &top,
            format!(
                "name = \"with-layer\"\nextends = [{:?}, {:?}]\n",
                validation_dir().join("before-new.toml"),
                validation_dir().join(layer)
            ),
        )
        .unwrap();
        let scenario =
            load_scenario(top.to_str().unwrap()).unwrap_or_else(|e| panic!("{layer}: {e}"));
        let table = load_file(&top).unwrap().table;
        assert!(table["propagation"]["lag"].is_table(), "{layer}");
        let sync = table["propagation"]
            .get("min_sync_period")
            .and_then(|v| v.as_str());
        assert_eq!(
            sync,
            (layer == "kube-proxy-sync.toml").then_some("1s"),
            "{layer}"
        );
        assert_eq!(scenario.name(), "with-layer");
    }
}
