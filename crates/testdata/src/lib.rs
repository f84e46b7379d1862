//! The public test vectors under `../shared/testdata`, shared by every crate's tests. (The
//! in-process system for scenario tests is `doorman-testkit`.)

use std::path::{Path, PathBuf};

/// `../shared/testdata/<sub>` (relative to the project root), or `None` after a note when it is
/// missing outside CI. With the environment variable CI set, a missing folder is a failure: the
/// run must not silently shrink.
// Failing loudly is the point: a test that needs the data must not pass without it on CI.
#[allow(clippy::panic, clippy::print_stdout)]
pub fn testdata(sub: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata")
        .join(sub);
    if path.is_dir() {
        return Some(path);
    }
    if std::env::var("CI").is_ok() {
        panic!(
            "test data missing at {} (CI is set, so this is a failure)",
            path.display()
        );
    }
    println!("note: test data not found at {}; skipping", path.display());
    None
}
