//! `COPY --from=stage` reads the stage's layers in place: whatever the source stage's
//! layers did (files deleted, directories replaced, hard links, set-id bits), the copy holds
//! exactly the merged file system, and a later step changing a copied file never changes
//! the stage it came from. As root and as an unprivileged user.

use crate::build_support::{busybox, listing, unpack, Work};
use crate::common::{have, is_root, text};
use crate::sandbox::ensure_test_user;

const DOCKERFILE: &str = "FROM busybox AS build\n\
RUN mkdir -p /d/sub /d/gone && echo a > /d/a && echo b > /d/b && echo k > /d/keep \\\n \
 && echo old > /d/sub/old && echo g > /d/gone/g && echo h > /d/h1 && ln /d/h1 /d/h2 \\\n \
 && echo s > /d/suid && chmod 4755 /d/suid && chown 7:8 /d/b\n\
RUN rm /d/a && rm -rf /d/gone /d/sub && mkdir /d/sub && echo new > /d/sub/new \\\n \
 && echo changed > /d/keep\n\
FROM busybox\n\
COPY --from=build /d /app\n\
COPY --from=build --chmod=600 /d/keep /keep600\n\
RUN echo more >> /app/keep && chmod 700 /app/b\n\
FROM busybox AS again\n\
COPY --from=build /d/keep /d/b /again/\n";

/// What the final image adds to busybox.
const WANT: &str = r#"d /app 0755 0:0
f /app/b 0700 7:8 "b\n"
h /app/h2 => /app/h1
f /app/h1 0644 0:0 "h\n"
f /app/keep 0644 0:0 "changed\nmore\n"
d /app/sub 0755 0:0
f /app/sub/new 0644 0:0 "new\n"
f /app/suid 4755 0:0 "s\n"
f /keep600 0600 0:0 "changed\n"
"#;

fn app_lines(listing: &str) -> String {
    listing
        .lines()
        .filter(|l| l.contains(" /app") || l.contains(" /keep600") || l.contains(" /again"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Hard-link lines sort by the path of the link; put them in `WANT`'s order.
fn sorted(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort_by_key(|l| l.split(' ').nth(1).unwrap_or_default().to_string());
    lines
}

#[test]
fn copy_from_a_stage_holds_its_merged_layers_and_leaves_them_unchanged() {
    let test = "copy_from_stage_layers";
    let Some(layout) = busybox(test) else { return };
    if !is_root() {
        eprintln!("\n!!! SKIPPED {test}: RUN needs root here (the rootless variant covers the rest) !!!\n");
        return;
    }
    let w = Work::new();
    w.dockerfile(DOCKERFILE);
    let ctx = Work::busybox_context(&layout);
    let got = w.build_and_unpack("final", &["--build-context", &ctx, "--target", "1"]);
    assert_eq!(sorted(&app_lines(&got)), sorted(WANT), "{got}");
    // The RUN above changed /app/keep and /app/b: the build stage must not have changed.
    let again = w.build_and_unpack("again", &["--build-context", &ctx, "--target", "again"]);
    assert_eq!(
        app_lines(&again),
        "d /again 0755 0:0\nf /again/b 0644 7:8 \"b\\n\"\nf /again/keep 0644 0:0 \"changed\\n\"\n",
        "{again}"
    );
}

#[test]
fn copy_from_a_stage_without_root() {
    let test = "copy_from_stage_rootless";
    if !is_root() || !have(test, &["umoci", "runuser"]) {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to an unprivileged user !!!\n");
        return;
    }
    let Some(layout) = busybox(test) else { return };
    if let Err(why) = ensure_test_user() {
        panic!("{test}: cannot make the test user: {why}");
    }
    let w = Work::new();
    w.dockerfile(DOCKERFILE);
    let base = w.busybox_copy(&layout);
    w.give_to_test_user();
    let ctx = Work::busybox_context(&base);
    let build = |target: &str, name: &str| {
        let dest = w.path(&format!("out/{name}"));
        let spec = format!("type=oci,dest={},tar=false", dest.display());
        let out = w.builder_as_test_user(&[
            "build",
            "-t",
            "app",
            "--build-context",
            &ctx,
            "--target",
            target,
            "-o",
            &spec,
            "ctx",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        listing(&unpack(
            &dest,
            "latest",
            &w.path(&format!("out/{name}-bundle")),
        ))
    };
    let got = build("1", "final");
    assert_eq!(sorted(&app_lines(&got)), sorted(WANT), "{got}");
    let again = build("again", "again");
    assert!(
        again.contains("f /again/keep 0644 0:0 \"changed\\n\""),
        "{again}"
    );
}
