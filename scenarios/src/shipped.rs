//! The scenario files shipped with fleetsim, compiled into the binary so `fleetsim demo` and
//! `fleetsim run before` work from any folder. The same files live in `scenarios/files/`.

use measure::Lever;

/// Every shipped file: `(file name, contents)`.
const FILES: &[(&str, &str)] = &[
    ("base.toml", include_str!("../files/base.toml")),
    ("before.toml", include_str!("../files/before.toml")),
    ("after.toml", include_str!("../files/after.toml")),
    ("pid1.toml", include_str!("../files/pid1.toml")),
    ("readiness.toml", include_str!("../files/readiness.toml")),
    ("drain.toml", include_str!("../files/drain.toml")),
    ("requeue.toml", include_str!("../files/requeue.toml")),
    ("surge.toml", include_str!("../files/surge.toml")),
    (
        "after-no-pid1.toml",
        include_str!("../files/after-no-pid1.toml"),
    ),
    (
        "after-no-readiness.toml",
        include_str!("../files/after-no-readiness.toml"),
    ),
    (
        "after-no-drain.toml",
        include_str!("../files/after-no-drain.toml"),
    ),
    (
        "after-no-requeue.toml",
        include_str!("../files/after-no-requeue.toml"),
    ),
    (
        "after-no-surge.toml",
        include_str!("../files/after-no-surge.toml"),
    ),
    (
        "ladder-readiness.toml",
        include_str!("../files/ladder-readiness.toml"),
    ),
    (
        "ladder-drain.toml",
        include_str!("../files/ladder-drain.toml"),
    ),
    (
        "ladder-requeue.toml",
        include_str!("../files/ladder-requeue.toml"),
    ),
];

/// The fix-in-order ladder: `(step label, scenario, what the step's lever is for)`, each step
/// the previous one plus one lever patch, in the order a team would apply them.
pub const LADDER: [(&str, &str); 6] = [
    ("before", "before"),
    ("+pid1", "pid1"),
    ("+readiness", "ladder-readiness"),
    ("+drain", "ladder-drain"),
    ("+requeue", "ladder-requeue"),
    ("+surge (= after)", "after"),
];

/// The lever patches: `(lever name, contents)`, each a table of the settings the lever stands
/// for (`scenarios/files/levers/`).
const PATCHES: &[(&str, &str)] = &[
    ("pid1", include_str!("../files/levers/pid1.toml")),
    ("readiness", include_str!("../files/levers/readiness.toml")),
    ("drain", include_str!("../files/levers/drain.toml")),
    ("requeue", include_str!("../files/levers/requeue.toml")),
    ("surge", include_str!("../files/levers/surge.toml")),
];

/// A lever's patch by lever name (`"pid1"`).
pub fn lever_patch(name: &str) -> Option<&'static str> {
    PATCHES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Every shipped file, `(file name, contents)`.
pub fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    FILES.iter().copied()
}

/// A shipped file's contents by file name (`"after.toml"`).
pub fn get(file: &str) -> Option<&'static str> {
    FILES.iter().find(|(n, _)| *n == file).map(|(_, t)| *t)
}

/// The names of the shipped scenarios (every file but `base.toml`), in demo order.
pub fn scenario_names() -> Vec<&'static str> {
    FILES
        .iter()
        .filter(|(n, _)| *n != "base.toml")
        .map(|(n, _)| n.trim_end_matches(".toml"))
        .collect()
}

/// The shipped scenario with only `lever` on, over `before` (`"pid1"`).
pub fn alone(lever: Lever) -> String {
    lever.name().to_string()
}

/// The shipped scenario with every lever on but `lever` (`"after-no-pid1"`).
pub fn without(lever: Lever) -> String {
    format!("after-no-{}", lever.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_files_are_the_files_on_disk() {
        let dir = crate::load::shipped_dir();
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = all().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "add new files in scenarios/files to shipped.rs"
        );
        for (name, text) in all() {
            assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), text);
        }
        for (name, text) in PATCHES {
            let path = dir.join("levers").join(format!("{name}.toml"));
            assert_eq!(&std::fs::read_to_string(path).unwrap(), text);
        }
        for (_, scenario) in LADDER {
            assert!(get(&format!("{scenario}.toml")).is_some(), "{scenario}");
        }
        for l in Lever::ALL {
            assert!(lever_patch(l.name()).is_some());
            assert!(get(&format!("{}.toml", alone(l))).is_some());
            assert!(get(&format!("{}.toml", without(l))).is_some());
        }
    }
}
