//! The mutation loop's crash inputs (`scripts/mutation-loop --seed 13 --count 1000` against the
//! binary before issue 13: 5 panics, 5 out-of-memory aborts, 2 hangs), kept as regression
//! tests: each now loads to a clean error or runs one seed under caps.

use std::path::Path;

use models::{RunCaps, SimError, SimOptions, simulate_capped};

#[test]
fn every_kept_crash_input_fails_cleanly_or_runs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mutation_regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        n += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let fleet = match scenarios::load_file(&path).and_then(|s| scenarios::prepare(&s)) {
            Ok(f) => f,
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&name) && msg.contains("limit"),
                    "{name}: {msg}"
                );
                continue;
            }
        };
        let caps = RunCaps {
            requests: 200_000,
            jobs: 50_000,
            events: 2_000_000,
        };
        match simulate_capped(&name, &fleet, &SimOptions::default(), &caps) {
            Ok(_) | Err(SimError::Limit { .. }) => {}
            Err(e) => panic!("{name}: {e}"),
        }
    }
    assert_eq!(n, 12);
}
