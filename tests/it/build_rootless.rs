//! A build without root: COPY works (contents, modes, symlinks, directories), and the files
//! carry the caller's ids until the user-namespace re-exec makes the build root inside its
//! own namespace; then this test will expect 0:0.

use crate::build_support::{listing, unpack, Work};
use crate::common::{have, text};

#[test]
fn copy_without_root_keeps_contents_and_modes() {
    let test = "copy_without_root";
    if !have(test, &["umoci"]) {
        return;
    }
    let w = Work::new();
    w.file("app/run.sh", "run\n", 0o755)
        .file("app/conf", "c\n", 0o604)
        .symlink("app/link", "run.sh")
        .dockerfile("FROM scratch\nCOPY app /app/\nWORKDIR /work\n");
    let layout = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let Some(out) = w.builder_as_nobody(test, &["build", "-t", "app", "-o", &spec, "ctx"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = listing(&unpack(&layout, "latest", &w.path("out/bundle")));
    let want = r#"d /app 0755 65534:65534
f /app/conf 0604 65534:65534 "c\n"
l /app/link -> run.sh
f /app/run.sh 0755 65534:65534 "run\n"
d /work 0755 65534:65534
"#;
    assert_eq!(got, want);
}
