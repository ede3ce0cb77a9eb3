//! Output folders written atomically: everything goes to a temporary folder beside the target
//! (same parent, so same file system), which is renamed into place only once complete. A run
//! into an existing `--out` replaces it whole (no stale file of an earlier run is left beside
//! the new ones), and an interrupted or failed run leaves the earlier output as it was.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The temporary folders being written now: [`abandon_all`] removes them (an interrupted
/// process, which runs no destructor, leaves none behind).
static STAGED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every temporary folder not yet committed (for a signal handler's thread, before the
/// process exits). The outputs they were to replace are left as they were.
pub fn abandon_all() -> Vec<PathBuf> {
    let list = std::mem::take(&mut *STAGED.lock().unwrap_or_else(|e| e.into_inner()));
    for t in &list {
        let _ = std::fs::remove_dir_all(t);
    }
    list
}

fn forget(tmp: &Path) {
    STAGED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|t| t != tmp);
}

/// Files one of fleetsim's outputs holds at its top level: an existing folder with none of
/// them (and not empty) is not replaced, as it may hold someone else's files.
const OURS: &[&str] = &[
    "summary.json",
    "sweep.json",
    "sweep.csv",
    "report.md",
    "timeline.csv",
    "digests.csv",
];

/// A temporary folder that becomes `dir` on [`Staged::commit`]; dropped uncommitted, it is
/// removed and `dir` is untouched.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

fn name_of(dir: &Path) -> io::Result<(PathBuf, String)> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: an output folder needs a name", dir.display()),
            )
        })?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

impl Staged {
    /// Prepares to write `dir`: checks that an existing `dir` is one of fleetsim's outputs (or
    /// empty) and creates the temporary folder `.NAME.tmp-PID` beside it.
    pub fn new(dir: &Path) -> io::Result<Staged> {
        let (parent, name) = name_of(dir)?;
        if dir.exists() {
            if !dir.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a folder", dir.display()),
                ));
            }
            let mut entries = std::fs::read_dir(dir)?.peekable();
            let empty = entries.peek().is_none();
            if !empty && !OURS.iter().any(|f| dir.join(f).exists()) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and holds none of fleetsim's outputs ({}): not replacing it; choose another folder or remove it",
                        dir.display(),
                        OURS.join(", ")
                    ),
                ));
            }
        }
        std::fs::create_dir_all(&parent)?;
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir(&tmp)?;
        STAGED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tmp.clone());
        Ok(Staged {
            dir: dir.to_path_buf(),
            tmp,
            committed: false,
        })
    }

    /// The temporary folder to write into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The folder the output becomes.
    pub fn target(&self) -> &Path {
        &self.dir
    }

    /// Puts the complete output in place of `dir` (moving any earlier output aside first and
    /// removing it after).
    pub fn commit(mut self) -> io::Result<()> {
        let (parent, name) = name_of(&self.dir)?;
        if self.dir.exists() {
            let old = parent.join(format!(".{name}.old-{}", std::process::id()));
            if old.exists() {
                std::fs::remove_dir_all(&old)?;
            }
            std::fs::rename(&self.dir, &old)?;
            if let Err(e) = std::fs::rename(&self.tmp, &self.dir) {
                // Put the earlier output back.
                let _ = std::fs::rename(&old, &self.dir);
                return Err(e);
            }
            std::fs::remove_dir_all(&old)?;
        } else {
            std::fs::rename(&self.tmp, &self.dir)?;
        }
        self.committed = true;
        forget(&self.tmp);
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
            forget(&self.tmp);
        }
    }
}

/// Writes `text` to `path` atomically: to a temporary file beside it, then renamed over it.
pub fn write_file(path: &Path, text: &str) -> io::Result<()> {
    let (parent, name) = name_of(path)?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rerun_replaces_the_folder_whole_and_a_failed_one_leaves_it() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("run");
        let s = Staged::new(&out).unwrap();
        for f in ["summary.json", "seeds-1.json", "seeds-2.json"] {
            std::fs::write(s.path().join(f), f).unwrap();
        }
        s.commit().unwrap();
        // Fewer files the second time: none of the first run's is left.
        let s = Staged::new(&out).unwrap();
        std::fs::write(s.path().join("summary.json"), "second").unwrap();
        s.commit().unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["summary.json"]);
        // Dropped before commit (a failure, an interrupt): the output is as it was.
        let s = Staged::new(&out).unwrap();
        std::fs::write(s.path().join("summary.json"), "third").unwrap();
        drop(s);
        assert_eq!(
            std::fs::read_to_string(out.join("summary.json")).unwrap(),
            "second"
        );
        let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary folder left behind");
    }

    #[test]
    fn a_folder_of_other_files_is_not_replaced() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("notes.txt"), "mine").unwrap();
        let e = Staged::new(root.path()).unwrap_err().to_string();
        assert!(e.contains("holds none of fleetsim's outputs"), "{e}");
    }
}
