//! What a Git ref stands for now: `git ls-remote` read as BuildKit reads it (a branch wins
//! over a tag of the same name; an annotated tag is peeled to its commit), and a full commit
//! SHA taken as it is, without asking the remote.

/// A ref resolved to its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The commit to check out (an annotated tag peeled).
    pub commit: String,
    /// What the ref names: the tag object of an annotated tag, else the commit.
    pub object: String,
    /// The full ref (`refs/heads/main`, `refs/tags/v1`); `None` for a commit.
    pub full_ref: Option<String>,
}

/// Whether `s` is a full SHA-1 or SHA-256 object name.
pub fn is_commit_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `s` is a valid `--checksum` for a Git source: hex digits, at least one.
pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The default branch from `git ls-remote --symref URL HEAD` (`ref: refs/heads/X\tHEAD`).
pub fn default_branch(out: &str) -> Option<String> {
    out.lines().find_map(|line| {
        let rest = line.strip_prefix("ref: ")?;
        let (target, name) = rest.split_once('\t')?;
        (name.trim() == "HEAD").then(|| target.trim().to_string())
    })
}

/// The `HEAD` line of `git ls-remote URL HEAD`, for a server that does not name its
/// default branch.
pub fn head_commit(out: &str) -> Option<String> {
    out.lines().find_map(|line| {
        let (sha, name) = line.split_once('\t')?;
        (name.trim() == "HEAD" && is_commit_sha(sha)).then(|| sha.to_string())
    })
}

/// `reference` in the output of `git ls-remote URL REF REF^{}`, by BuildKit's rules.
pub fn from_ls_remote(out: &str, reference: &str) -> Option<Resolved> {
    let bare = reference.strip_prefix("refs/").unwrap_or(reference);
    let partial = format!("refs/{bare}");
    let head = format!("refs/heads/{}", reference.trim_start_matches("refs/heads/"));
    let tag = format!("refs/tags/{}", reference.trim_start_matches("refs/tags/"));
    let peeled = format!("{tag}^{{}}");
    let (mut exact, mut on_head, mut on_tag, mut on_peeled) = (None, None, None, None);
    for line in out.lines() {
        let Some((sha, name)) = line.split_once('\t') else {
            continue;
        };
        let sha = sha.trim().to_string();
        match name.trim() {
            n if n == head => on_head = Some(sha),
            n if n == tag => on_tag = Some(sha),
            n if n == peeled => on_peeled = Some(sha),
            n if n == partial => exact = Some(sha),
            _ => {}
        }
    }
    let (object, full_ref, peeled) = if let Some(sha) = exact {
        (sha, partial, None)
    } else if let Some(sha) = on_head {
        (sha, head, None)
    } else {
        (on_tag?, tag, on_peeled)
    };
    if !is_commit_sha(&object) {
        return None;
    }
    Some(Resolved {
        commit: peeled.unwrap_or_else(|| object.clone()),
        object,
        full_ref: Some(full_ref),
    })
}

/// Whether `checksum` matches `r` (a prefix of the commit, or of the annotated tag).
pub fn checksum_matches(r: &Resolved, checksum: &str) -> bool {
    r.commit.starts_with(checksum) || r.object.starts_with(checksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const C: &str = "3333333333333333333333333333333333333333";

    #[test]
    fn branch_wins_over_tag_and_tags_are_peeled() {
        let out = format!("{A}\trefs/heads/v1\n{B}\trefs/tags/v1\n{C}\trefs/tags/v1^{{}}\n");
        let r = from_ls_remote(&out, "v1").unwrap();
        assert_eq!(
            (r.commit.as_str(), r.full_ref.as_deref()),
            (A, Some("refs/heads/v1"))
        );
        let out = format!("{B}\trefs/tags/v1\n{C}\trefs/tags/v1^{{}}\n");
        let r = from_ls_remote(&out, "v1").unwrap();
        assert_eq!((r.commit.as_str(), r.object.as_str()), (C, B));
        assert_eq!(r.full_ref.as_deref(), Some("refs/tags/v1"));
        assert!(checksum_matches(&r, "333") && checksum_matches(&r, "222"));
        assert!(!checksum_matches(&r, "111"));
        let r = from_ls_remote(&format!("{A}\trefs/heads/main\n"), "refs/heads/main").unwrap();
        assert_eq!(r.commit, A);
        assert!(from_ls_remote(&format!("{A}\trefs/heads/other\n"), "main").is_none());
        assert!(from_ls_remote("", "main").is_none());
    }

    #[test]
    fn default_branch_and_head() {
        let out = format!("ref: refs/heads/trunk\tHEAD\n{A}\tHEAD\n");
        assert_eq!(default_branch(&out).as_deref(), Some("refs/heads/trunk"));
        assert_eq!(head_commit(&out).as_deref(), Some(A));
        assert_eq!(default_branch(&format!("{A}\tHEAD\n")), None);
    }

    #[test]
    fn shas_and_checksums() {
        assert!(is_commit_sha(A));
        assert!(!is_commit_sha(&A[..39]));
        assert!(!is_commit_sha(&A.to_uppercase().replace('1', "F")));
        assert!(is_hex("be1f38e") && !is_hex("") && !is_hex("sha256:ab"));
    }
}
