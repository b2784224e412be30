//! One fresh directory per fuzz input, and the check that the code under
//! test wrote nothing outside it.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use tempfile::TempDir;

/// The directory each input's `case` is made in (under `$TMPDIR`).
static BASE: OnceLock<TempDir> = OnceLock::new();

fn names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Runs `f` on an empty directory `case/<inside>`, then asserts that
/// nothing appeared beside it or above `case`, and removes `case`.
pub fn check(inside: &str, f: impl FnOnce(&Path)) {
    let base = BASE.get_or_init(|| TempDir::new().unwrap()).path();
    let case = base.join("case");
    let dir = case.join(inside);
    fs::create_dir_all(&dir).unwrap();
    f(&dir);
    assert_eq!(names(&case), [inside], "written beside {inside}");
    assert_eq!(names(base), ["case"], "written above {inside}");
    fs::remove_dir_all(&case).unwrap();
}
