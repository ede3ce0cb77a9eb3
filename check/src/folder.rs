//! Output folders written all or nothing: `--fix OUT` and `--predictions OUT` each write a new
//! folder, staged beside it and renamed into place only when every file is written.

use std::path::{Path, PathBuf};

use crate::error::CheckError;

/// Fills a new folder `out` through `fill` (given the staging folder, it returns the paths it
/// wrote, named under `out`). `out` must not exist (`flag` names the option in the error); on
/// any error the staging folder is removed and `out` is never created.
pub(crate) fn write_new_folder(
    out: &Path,
    flag: &str,
    fill: impl FnOnce(&Path) -> Result<Vec<PathBuf>, CheckError>,
) -> Result<Vec<PathBuf>, CheckError> {
    if out.exists() {
        return Err(CheckError::Write {
            path: out.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("already exists; {flag} writes a new folder"),
            ),
        });
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(
        ".{}.partial-{}",
        out.file_name()
            .map_or("out".into(), |n| n.to_string_lossy().to_string()),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = std::fs::create_dir_all(&tmp)
        .map_err(|source| CheckError::Write {
            path: tmp.clone(),
            source,
        })
        .and_then(|()| fill(&tmp))
        .and_then(|written| {
            std::fs::rename(&tmp, out).map_err(|source| CheckError::Write {
                path: out.to_path_buf(),
                source,
            })?;
            Ok(written)
        });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
