//! Fixtures shared by the integration tests.

use std::path::PathBuf;

/// `../shared` beside the checkout (or `$BUILDER_SHARED_DIR`), where the conformance corpora
/// live. `None`, with a loud message, when it is absent: the caller skips.
#[allow(dead_code)]
pub fn shared_dir(what: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("BUILDER_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n!!! SKIPPED {what}: {} not found (set BUILDER_SHARED_DIR to the shared folder) !!!\n",
            dir.display()
        );
        None
    }
}

/// The crate's own `testdata/` folder.
#[allow(dead_code)]
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}
