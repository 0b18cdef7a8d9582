use std::fs;

use super::*;

fn digest_of(s: &str) -> Digest {
    sha256(s.as_bytes())
}

/// A cache at `dir/stat` that trusts entries right away.
fn eager(dir: &Path) -> StatCache {
    let mut c = StatCache::load(&dir.join("stat"));
    c.set_racy_window(Duration::ZERO);
    c
}

#[test]
fn lookup_needs_every_stat_field_to_match() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a");
    fs::write(&f, "one").unwrap();
    let meta = fs::symlink_metadata(&f).unwrap();
    let cache = eager(dir.path());
    assert_eq!(cache.lookup("a", &meta), None);
    cache.insert("a", &meta, &digest_of("one"));
    assert_eq!(cache.lookup("a", &meta), Some(digest_of("one")));
    assert_eq!(cache.lookup("b", &meta), None);
    fs::write(&f, "two!").unwrap();
    let changed = fs::symlink_metadata(&f).unwrap();
    assert_eq!(cache.lookup("a", &changed), None);
}

#[test]
fn saved_cache_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stat");
    let cache = eager(dir.path());
    let mut metas = Vec::new();
    for i in 0..50 {
        let p = dir.path().join(format!("f{i}"));
        fs::write(&p, format!("{i}")).unwrap();
        let meta = fs::symlink_metadata(&p).unwrap();
        cache.insert(&format!("d/f{i}"), &meta, &digest_of(&i.to_string()));
        metas.push(meta);
    }
    cache.save().unwrap();
    let mut back = StatCache::load(&file);
    back.set_racy_window(Duration::ZERO);
    assert_eq!(back.len(), 50);
    for (i, meta) in metas.iter().enumerate() {
        let got = back.lookup(&format!("d/f{i}"), meta);
        assert_eq!(got, Some(digest_of(&i.to_string())));
    }
}

#[test]
fn save_without_changes_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sub/stat");
    let cache = StatCache::load(&file);
    cache.save().unwrap();
    assert!(!file.exists());
    let meta = fs::symlink_metadata(dir.path()).unwrap();
    cache.insert("x", &meta, &digest_of("x"));
    cache.save().unwrap();
    assert!(file.exists());
    fs::remove_file(&file).unwrap();
    cache.save().unwrap();
    assert!(!file.exists(), "second save rewrote the file");
}

#[test]
fn damaged_file_is_an_empty_cache() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stat");
    let cache = eager(dir.path());
    let meta = fs::symlink_metadata(dir.path()).unwrap();
    cache.insert("x", &meta, &digest_of("x"));
    cache.insert("y/z", &meta, &digest_of("y"));
    cache.save().unwrap();
    let good = fs::read(&file).unwrap();
    assert_eq!(StatCache::load(&file).len(), 2);

    let mut flipped = good.clone();
    flipped[20] ^= 0x40;
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"garbage".to_vec(),
        good[..good.len() - 1].to_vec(),
        good[..good.len() / 2].to_vec(),
        flipped,
        [b"BSTATC99".as_slice(), &good[8..]].concat(),
    ];
    for bytes in cases {
        fs::write(&file, &bytes).unwrap();
        assert!(StatCache::load(&file).is_empty(), "{bytes:?}");
    }
    assert!(StatCache::load(&dir.path().join("missing")).is_empty());
}

#[test]
fn racily_clean_entries_are_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a");
    fs::write(&f, "one").unwrap();
    let meta = fs::symlink_metadata(&f).unwrap();
    let cache = StatCache::load(&dir.path().join("stat"));
    // Hashed right after its last change: a write in the same tick would go unseen.
    cache.insert("a", &meta, &digest_of("one"));
    assert_eq!(cache.lookup("a", &meta), None);
    // Hashed well after its last change: trusted.
    let changed = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
    let changed = changed.max(meta.ctime() * 1_000_000_000 + meta.ctime_nsec());
    let bytes = digest_bytes(&digest_of("one")).unwrap();
    cache.insert_raw("a", StatKey::of(&meta), bytes, changed + 1_000_000_001);
    assert_eq!(cache.lookup("a", &meta), Some(digest_of("one")));
    cache.insert_raw("a", StatKey::of(&meta), bytes, changed + 999_999_999);
    assert_eq!(cache.lookup("a", &meta), None);
}

#[test]
fn entries_of_files_gone_from_a_listed_directory_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stat");
    let meta = fs::symlink_metadata(dir.path()).unwrap();
    let cache = eager(dir.path());
    for p in ["keep", "d/seen", "d/gone", "other/unlisted"] {
        cache.insert(p, &meta, &digest_of(p));
    }
    cache.save().unwrap();

    let cache = StatCache::load(&file);
    cache.mark_seen("d/seen");
    cache.mark_listed("d");
    cache.save().unwrap();
    let back = eager(dir.path());
    assert_eq!(back.len(), 3);
    assert_eq!(back.lookup("d/gone", &meta), None);
    assert!(back.lookup("other/unlisted", &meta).is_some());
    assert!(back.lookup("keep", &meta).is_some());
}

#[test]
fn path_is_per_canonical_root() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    fs::create_dir(&ctx).unwrap();
    std::os::unix::fs::symlink(&ctx, dir.path().join("link")).unwrap();
    let cache_dir = dir.path().join("cache");
    let a = StatCache::path_for(&cache_dir, &ctx);
    assert_eq!(a, StatCache::path_for(&cache_dir, &dir.path().join("link")));
    assert_eq!(a, StatCache::path_for(&cache_dir, &ctx.join(".")));
    assert_ne!(a, StatCache::path_for(&cache_dir, dir.path()));
    assert!(a.starts_with(cache_dir.join("stat")));
}
