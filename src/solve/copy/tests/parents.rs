//! `COPY --parents`.

use super::*;

fn parents(r: &mut CopyRequest<'_>) {
    r.parents = true;
}

#[test]
fn parents_keep_the_source_path() {
    let f = Fixture::new();
    file(f.ctx(), "x/a.txt", "xa", 0o644);
    file(f.ctx(), "y/a.txt", "ya", 0o644);
    dir(f.ctx(), "x", 0o750);
    f.copy_with(&["./x/a.txt", "./y/a.txt"], "/parents/", parents)
        .unwrap();
    assert_eq!(
        paths(f.out()),
        [
            "/parents",
            "/parents/x",
            "/parents/x/a.txt",
            "/parents/y",
            "/parents/y/a.txt"
        ]
    );
    // Parent directories carry their source metadata.
    assert!(f.layer()["/parents/x"].starts_with("d 750 "));
    // Without --parents both land on the same name.
    let g = Fixture::new();
    file(g.ctx(), "x/a.txt", "xa", 0o644);
    file(g.ctx(), "y/a.txt", "ya", 0o644);
    g.copy(&["./x/a.txt", "./y/a.txt"], "/no_parents/").unwrap();
    assert_eq!(paths(g.out()), ["/no_parents", "/no_parents/a.txt"]);
}

#[test]
fn pivot_limits_the_kept_parents() {
    let f = Fixture::new();
    file(f.ctx(), "x/y/a.txt", "a", 0o644);
    file(f.ctx(), "x/y/b.txt", "b", 0o644);
    file(f.ctx(), "x/y/c.md", "c", 0o644);
    f.copy_with(&["./x/./y/*.txt"], "/parents/", parents)
        .unwrap();
    assert_eq!(
        paths(f.out()),
        [
            "/parents",
            "/parents/y",
            "/parents/y/a.txt",
            "/parents/y/b.txt"
        ]
    );
}

#[test]
fn doublestar_matches_any_depth() {
    let f = Fixture::new();
    file(f.ctx(), "src/a.txt", "a", 0o644);
    file(f.ctx(), "src/x/b.txt", "b", 0o644);
    file(f.ctx(), "src/x/y/c.txt", "c", 0o644);
    file(f.ctx(), "src/x/y/d.rs", "d", 0o644);
    file(f.ctx(), "other/e.txt", "e", 0o644);
    f.copy_with(&["./src/**/*.txt"], "/parents/", parents)
        .unwrap();
    assert_eq!(
        paths(f.out()),
        [
            "/parents",
            "/parents/src",
            "/parents/src/a.txt",
            "/parents/src/x",
            "/parents/src/x/b.txt",
            "/parents/src/x/y",
            "/parents/src/x/y/c.txt"
        ]
    );
}

#[test]
fn parents_of_a_directory_bring_its_tree() {
    let f = Fixture::new();
    file(f.ctx(), "a/b/c/file", "f", 0o644);
    f.copy_with(&["a/b"], "/out", parents).unwrap();
    assert_eq!(
        paths(f.out()),
        [
            "/out",
            "/out/a",
            "/out/a/b",
            "/out/a/b/c",
            "/out/a/b/c/file"
        ]
    );
}

#[test]
fn parents_with_exclude() {
    let f = Fixture::new();
    file(f.ctx(), "app/a.go", "a", 0o644);
    file(f.ctx(), "app/a_test.go", "t", 0o644);
    f.copy_with(&["app"], "/src/", |r| {
        r.parents = true;
        r.excludes = vec!["**/*_test.go".into()];
    })
    .unwrap();
    assert_eq!(paths(f.out()), ["/src", "/src/app", "/src/app/a.go"]);
}

#[test]
fn missing_parents_source_is_an_error() {
    let f = Fixture::new();
    file(f.ctx(), "x/a.txt", "a", 0o644);
    let err = f.copy_with(&["./x/nope.txt"], "/p/", parents).unwrap_err();
    assert_eq!(
        err.to_string(),
        "source \"./x/nope.txt\" not found in the build context"
    );
    // A wildcard may match nothing.
    f.copy_with(&["./x/*.md"], "/p/", parents).unwrap();
}
