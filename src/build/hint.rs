//! `hint:` lines: what the user can do about a failure, where one thing usually helps
//! (a command missing from the image, a COPY source that `.dockerignore` excludes, a base
//! image that is neither in the store nor reachable, user namespaces that are turned off).
//!
//! A hint is chosen from the error and its causes, the first that has one; most errors have
//! none, and the message alone has to do.

use std::error::Error as StdError;

use crate::sandbox::{ExitStatus, SandboxError};
use crate::solve::copy::CopyError;
use crate::solve::StepError;

/// How to allow user namespaces and give a user subordinate ids (the two things a rootless
/// build needs from the host).
pub const ROOTLESS: &str = "rootless builds need user namespaces: allow them with \
`sysctl -w kernel.unprivileged_userns_clone=1` (Debian, older Ubuntu), \
`sysctl -w user.max_user_namespaces=28633`, or on Ubuntu 23.10 and later \
`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; to run as users other than \
your own, give yours a range in /etc/subuid and /etc/subgid \
(`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`)";

/// What stops namespaces inside a container whose runtime filters system calls.
pub const SECCOMP: &str = "this process runs under a seccomp filter (a container \
runtime's default profile), which refuses the namespaces builder isolates RUN steps with: \
run the container with `--security-opt seccomp=unconfined` (Docker, Podman) or \
`securityContext.seccompProfile.type: Unconfined` (Kubernetes); see docs/ci.md";

/// The hint for namespaces that could not be made: the seccomp filter when there is one,
/// else the host's settings.
fn namespaces_hint() -> String {
    if crate::sandbox::userns::under_seccomp_filter() {
        SECCOMP.into()
    } else {
        ROOTLESS.into()
    }
}

/// Why a COPY from the context finds nothing when the Dockerfile came on stdin.
pub const EMPTY_CONTEXT: &str = "the Dockerfile came on stdin in place of the build context, \
so the context is empty: pass the context as a directory and the Dockerfile with -f - \
(`builder build -f - DIR`), or pipe a tar of the context that holds the Dockerfile";

/// Whether `err` or one of its causes is a source missing from the build context.
pub fn reads_context(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(CopyError::SourceNotFound { root, .. }) = e.downcast_ref::<CopyError>() {
            if root == "the build context" {
                return true;
            }
        }
        next = e.source();
    }
    false
}

/// The hint for `err` or the first of its causes that has one.
pub fn hint(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(h) = hint_one(e) {
            return Some(h);
        }
        next = e.source();
    }
    None
}

fn hint_one(e: &(dyn StdError + 'static)) -> Option<String> {
    if let Some(step) = e.downcast_ref::<StepError>() {
        return step_hint(step);
    }
    if let Some(copy) = e.downcast_ref::<CopyError>() {
        return copy_hint(copy);
    }
    if let Some(sandbox) = e.downcast_ref::<SandboxError>() {
        return sandbox_hint(sandbox);
    }
    None
}

fn step_hint(e: &StepError) -> Option<String> {
    match e {
        StepError::RunFailed { status, .. } => status_hint(*status),
        StepError::ImageNotFound(reference, _) => Some(missing_image(reference)),
        _ => None,
    }
}

/// What a RUN's exit status usually means.
fn status_hint(status: ExitStatus) -> Option<String> {
    match status {
        ExitStatus::Code(127) => Some(
            "exit code 127: a command was not found in the image; install it in an \
             earlier step or check its name and $PATH"
                .into(),
        ),
        ExitStatus::Code(126) => Some(
            "exit code 126: a command was found but could not be executed; check its mode \
             (chmod +x) and its #! line"
                .into(),
        ),
        ExitStatus::Signal(9) | ExitStatus::Code(137) => Some(
            "the process was killed with SIGKILL, most often because the machine ran out \
             of memory"
                .into(),
        ),
        _ => None,
    }
}

fn copy_hint(e: &CopyError) -> Option<String> {
    match e {
        CopyError::SourceNotFound {
            pattern,
            excluded: true,
            ..
        } => Some(format!(
            "{pattern:?} is in the build context, but .dockerignore excludes it: remove the \
             pattern that matches it, or add `!{}` after that pattern",
            pattern.trim_start_matches("./").trim_start_matches('/')
        )),
        CopyError::SourceNotFound { pattern, root, .. }
            if root == "the build context" && leaves_context(pattern) =>
        {
            Some(
                "COPY sources are relative to the build context and cannot leave it: move the \
             file into the context, or pass its directory with --build-context NAME=DIR and \
             use COPY --from=NAME"
                    .into(),
            )
        }
        _ => None,
    }
}

/// Whether a source path climbs above the context root (`../x`, `a/../../x`).
fn leaves_context(pattern: &str) -> bool {
    let mut depth: i64 = 0;
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn sandbox_hint(e: &SandboxError) -> Option<String> {
    match e {
        SandboxError::CommandNotFound { command } => Some(format!(
            "{command:?} is not in the image: install it in an earlier step, or give its \
             full path"
        )),
        SandboxError::Namespace { .. } => Some(namespaces_hint()),
        SandboxError::Setup { action, .. } if action.starts_with("unshare") => {
            Some(namespaces_hint())
        }
        SandboxError::Network(cause) => Some(network_hint(&crate::error::chain(&**cause))),
        _ => None,
    }
}

/// What to do when the build's private network could not be made (`why`: its causes).
fn network_hint(why: &str) -> String {
    let relax = "or pass --network=host to let RUN steps share the host's network";
    if why.starts_with("create the build's network namespace") {
        namespaces_hint()
    } else if why.contains("/dev/net/tun") {
        format!(
            "slirp4netns needs /dev/net/tun readable and writable by you: `chmod 0666 \
             /dev/net/tun` (udev's default on Debian), {relax}"
        )
    } else {
        format!("RUN's default network needs a working slirp4netns, {relax}")
    }
}

/// What to do about a base image that is neither in the local store nor could be pulled.
pub fn missing_image(reference: &str) -> String {
    let name = crate::domain::reference::Reference::parse(reference)
        .map(|r| r.familiar_short())
        .unwrap_or_else(|_| reference.to_string());
    format!(
        "fetch it with `builder pull {name}` where the registry can be reached, import a \
         tarball with `builder load -i FILE`, or use a local copy: \
         --build-context {name}=oci-layout://DIR"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve::error::RunLog;

    fn run_failed(status: ExitStatus) -> StepError {
        StepError::RunFailed {
            process: "/bin/sh -c x".into(),
            status,
            log: RunLog {
                name: "[2/2] RUN x".into(),
                tail: Vec::new(),
            },
        }
    }

    #[test]
    fn a_network_that_cannot_start_points_at_tun_or_host_network() {
        let tun = std::io::Error::other("open(\"/dev/net/tun\"): Permission denied");
        let err = SandboxError::Network(std::sync::Arc::new(tun));
        let text = hint(&err).unwrap();
        assert!(text.contains("`chmod 0666 /dev/net/tun`"), "{text}");
        assert!(text.contains("--network=host"), "{text}");
        // What the network module says when it cannot make the namespace.
        let netns = std::io::Error::other("create the build's network namespace");
        let err = SandboxError::Network(std::sync::Arc::new(netns));
        assert_eq!(hint(&err), Some(namespaces_hint()));
        let other = SandboxError::Network(std::sync::Arc::new(std::io::Error::other("exited")));
        assert!(hint(&other)
            .unwrap()
            .starts_with("RUN's default network needs"));
    }

    #[test]
    fn command_not_found_exit_code_gets_a_hint() {
        let h = hint(&run_failed(ExitStatus::Code(127))).unwrap();
        assert!(h.contains("not found in the image"), "{h}");
        assert!(hint(&run_failed(ExitStatus::Code(1))).is_none());
    }

    #[test]
    fn killed_process_hints_at_memory() {
        let h = hint(&run_failed(ExitStatus::Signal(9))).unwrap();
        assert!(h.contains("out of memory"), "{h}");
    }

    #[test]
    fn excluded_source_hints_at_dockerignore() {
        let e = StepError::Copy {
            instruction: "COPY",
            source: CopyError::SourceNotFound {
                pattern: "./secret.env".into(),
                root: "the build context".into(),
                excluded: true,
            },
        };
        let h = hint(&e).unwrap();
        assert!(h.contains(".dockerignore excludes it"), "{h}");
        assert!(h.contains("`!secret.env`"), "{h}");
    }

    #[test]
    fn source_outside_the_context_hints_at_build_context() {
        let e = CopyError::SourceNotFound {
            pattern: "a/../../x".into(),
            root: "the build context".into(),
            excluded: false,
        };
        assert!(hint(&e).unwrap().contains("--build-context"));
        let inside = CopyError::SourceNotFound {
            pattern: "a/../x".into(),
            root: "the build context".into(),
            excluded: false,
        };
        assert!(hint(&inside).is_none());
    }

    #[test]
    fn namespace_failures_hint_at_sysctl_and_subuid() {
        let e = SandboxError::Namespace {
            action: "unshare user namespace".into(),
            source: std::io::Error::from_raw_os_error(1),
        };
        let h = hint(&e).unwrap();
        assert!(h.contains("kernel.unprivileged_userns_clone"), "{h}");
        assert!(h.contains("/etc/subuid"), "{h}");
    }

    #[test]
    fn hint_is_found_among_the_causes() {
        let e = StepError::RunError {
            process: "nosuch".into(),
            source: SandboxError::CommandNotFound {
                command: "nosuch".into(),
            },
        };
        assert!(hint(&e).unwrap().contains("\"nosuch\" is not in the image"));
    }

    #[test]
    fn missing_image_names_the_short_form() {
        let h = missing_image("docker.io/library/alpine:latest");
        assert!(h.contains("`builder pull alpine`"), "{h}");
        assert!(h.contains("--build-context alpine=oci-layout://DIR"), "{h}");
    }
}
