//! `RUN --security`: what a step's security mode becomes in the sandbox, and who may have
//! BuildKit's insecure mode. As with BuildKit and buildx, `--security=insecure` runs only
//! when the build was granted the `security.insecure` entitlement (`--allow
//! security.insecure`); here it also needs builder to run as real root, because a rootless
//! build has no capabilities of the host to hand out.
//!
//! `network.host` is accepted as buildx accepts it, and grants nothing: `RUN
//! --network=host` needs no entitlement here (builder is no daemon; its caller already has
//! the host's network, which a RUN of a rootless build shares by default anyway).

use super::super::error::{StepError, StepResult};
use crate::dockerfile::instructions::SecurityMode;
use crate::sandbox::Security;

/// The entitlement `--security=insecure` needs.
pub const SECURITY_INSECURE: &str = "security.insecure";
/// The entitlement buildx passes for `--network=host` (accepted, not needed here).
pub const NETWORK_HOST: &str = "network.host";

/// What `--allow` granted the build (BuildKit's entitlements).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entitlements {
    /// `security.insecure`: `RUN --security=insecure` may run (as real root).
    pub security_insecure: bool,
    /// `network.host`: given, but nothing here needs it.
    pub network_host: bool,
}

impl Entitlements {
    /// The entitlements of `--allow` values; an unknown one is an error naming it.
    ///
    /// ```
    /// use builder::solve::run::Entitlements;
    /// let e = Entitlements::parse(&["security.insecure".to_string()]).unwrap();
    /// assert!(e.security_insecure && !e.network_host);
    /// assert!(Entitlements::parse(&["device".to_string()]).is_err());
    /// ```
    pub fn parse(values: &[String]) -> Result<Entitlements, String> {
        let mut granted = Entitlements::default();
        for value in values {
            match value.as_str() {
                SECURITY_INSECURE => granted.security_insecure = true,
                NETWORK_HOST => granted.network_host = true,
                other => {
                    return Err(format!(
                        "invalid --allow {other:?}: expected {SECURITY_INSECURE} or {NETWORK_HOST}"
                    ))
                }
            }
        }
        Ok(granted)
    }
}

/// The sandbox's confinement for a step with `mode`, or why it may not run.
pub fn security(
    mode: SecurityMode,
    granted: Entitlements,
    real_root: bool,
) -> StepResult<Security> {
    match mode {
        SecurityMode::Sandbox => Ok(Security::Sandbox),
        SecurityMode::Insecure if !granted.security_insecure => Err(StepError::InsecureNotAllowed),
        SecurityMode::Insecure if !real_root => Err(StepError::InsecureRootless),
        SecurityMode::Insecure => Ok(Security::Insecure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_needs_the_entitlement_and_real_root() {
        let none = Entitlements::default();
        let insecure = Entitlements::parse(&[SECURITY_INSECURE.to_string()]).unwrap();
        assert!(matches!(
            security(SecurityMode::Insecure, none, true),
            Err(StepError::InsecureNotAllowed)
        ));
        assert!(matches!(
            security(SecurityMode::Insecure, insecure, false),
            Err(StepError::InsecureRootless)
        ));
        assert_eq!(
            security(SecurityMode::Insecure, insecure, true).unwrap(),
            Security::Insecure
        );
        assert_eq!(
            security(SecurityMode::Sandbox, none, false).unwrap(),
            Security::Sandbox
        );
    }

    #[test]
    fn allow_takes_buildkits_names_only() {
        let both = Entitlements::parse(&[NETWORK_HOST.to_string(), SECURITY_INSECURE.to_string()])
            .unwrap();
        assert!(both.network_host && both.security_insecure);
        let err = Entitlements::parse(&["security.unsafe".to_string()]).unwrap_err();
        assert_eq!(
            err,
            "invalid --allow \"security.unsafe\": expected security.insecure or network.host"
        );
    }
}
