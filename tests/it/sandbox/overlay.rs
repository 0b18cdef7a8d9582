//! Overlay mounts: what a RUN's changes look like in the upper directory.

use super::*;

#[test]
fn overlay_upper_holds_new_modified_deleted_and_opaque() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let base = fx.dir.path();
        let lower = fx.root();
        std::fs::create_dir_all(lower.join("dir/sub")).unwrap();
        std::fs::write(lower.join("dir/sub/a"), "a").unwrap();
        std::fs::write(lower.join("tmp/old"), "old").unwrap();
        for d in ["upper", "work", "merged"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        r.own(base);
        let out = r
            .command()
            .args(["debug", "run", "--rootfs"])
            .arg(base.join("merged"))
            .arg("--lower")
            .arg(&lower)
            .arg("--upper")
            .arg(base.join("upper"))
            .arg("--work")
            .arg(base.join("work"))
            .args([
                "--",
                "sh",
                "-c",
                "echo new > /new; echo more >> /etc/passwd; rm /tmp/old; \
                 rm -rf /dir; mkdir /dir; touch /dir/x; ls /dir",
            ])
            .output()
            .unwrap();
        assert_eq!(ok(&out, &r), "x\n", "as {}", r.name());
        fx.assert_clean();
        let upper = base.join("upper");
        assert_eq!(std::fs::read_to_string(upper.join("new")).unwrap(), "new\n");
        assert!(std::fs::read_to_string(upper.join("etc/passwd"))
            .unwrap()
            .ends_with("more\n"));
        let old = std::fs::symlink_metadata(upper.join("tmp/old")).unwrap();
        assert!(
            old.file_type().is_char_device() && old.rdev() == 0,
            "as {}",
            r.name()
        );
        assert_eq!(
            xattr::get(upper.join("dir"), "user.overlay.opaque")
                .unwrap()
                .as_deref(),
            Some(&b"y"[..]),
            "as {}",
            r.name()
        );
        assert!(upper.join("dir/x").exists() && !upper.join("dir/sub").exists());
        // The lower directory is untouched.
        assert!(lower.join("tmp/old").exists() && lower.join("dir/sub/a").exists());
        assert!(
            !upper.join("bin").exists(),
            "only changes reach the upper directory"
        );
    }
}
