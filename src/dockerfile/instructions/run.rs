//! RUN: the command (shell or exec form, heredocs attached) and its flags `--mount`
//! (repeatable), `--network`, `--security` and `--device` (repeatable), as BuildKit's
//! `parseRun` and its run hooks accept them.

use crate::dockerfile::ast::{Heredoc, Node, Span};
use crate::dockerfile::error::ParseError;

use super::bflag::FlagSet;
use super::common::{err_at, CommandLine};
use super::csv::csv_fields;
use super::expand::Expander;
use super::mount::MountSpec;
use super::suggest;

/// `RUN [--mount=...] [--network=...] [--security=...] [--device=...] <command>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCommand {
    /// The command; never expanded by the builder (the shell does it).
    pub cmd_line: CommandLine,
    /// Heredoc bodies named on the line (`RUN <<EOF`), in order.
    pub heredocs: Vec<Heredoc>,
    /// `--mount` flags, in order (typed after [`RunCommand::expand`]).
    pub mounts: Vec<MountSpec>,
    /// `--network`.
    pub network: NetworkMode,
    /// `--security`.
    pub security: SecurityMode,
    /// `--device` flags (CDI device requests), in order.
    pub devices: Vec<Device>,
    /// Names of the flags that were given, sorted (for lints and history).
    pub flags_used: Vec<String>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `RUN --network`: the one mode set of [`crate::domain`].
pub use crate::domain::NetworkMode;

/// `RUN --security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityMode {
    /// The normal sandbox (the default).
    #[default]
    Sandbox,
    /// All capabilities, no masked paths (needs the `security.insecure` entitlement).
    Insecure,
}

impl SecurityMode {
    /// The name used in Dockerfiles.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityMode::Sandbox => "sandbox",
            SecurityMode::Insecure => "insecure",
        }
    }
}

/// `RUN --device=name[,required]`: a CDI device request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Device name (`vendor.com/device=foo`, a class name, ...).
    pub name: String,
    /// Fail when the device is not available.
    pub required: bool,
}

impl RunCommand {
    /// Parse mount values after expanding them, filling each [`MountSpec::resolved`].
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        for spec in &mut self.mounts {
            let m = spec
                .resolve(ex)
                .map_err(|e| ParseError::new(self.span, e))?;
            spec.resolved = Some(m);
        }
        Ok(())
    }
}

pub(crate) fn parse_run(node: &Node) -> Result<RunCommand, ParseError> {
    let mut fs = FlagSet::new(&node.flags);
    let mount = fs.strings("mount");
    let network = fs.string("network", "default");
    let security = fs.string("security", "sandbox");
    let device = fs.strings("device");
    let flags = fs.parse().map_err(|e| err_at(node, e))?;

    let mut mounts = Vec::new();
    for raw in flags.strings(mount) {
        mounts.push(MountSpec::first_pass(raw).map_err(|e| err_at(node, e))?);
    }
    let network = flags.string(network);
    let network = NetworkMode::parse(network)
        .ok_or_else(|| err_at(node, format!("invalid network mode {network:?}")))?;
    let security = match flags.string(security) {
        "sandbox" => SecurityMode::Sandbox,
        "insecure" => SecurityMode::Insecure,
        other => return Err(err_at(node, format!("security {other:?} is not valid"))),
    };
    let mut devices = Vec::new();
    for raw in flags.strings(device) {
        devices.push(parse_device(raw).map_err(|e| err_at(node, e))?);
    }
    Ok(RunCommand {
        cmd_line: CommandLine::from_node(node),
        heredocs: node.heredocs.clone(),
        mounts,
        network,
        security,
        devices,
        flags_used: flags.used_names(),
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

/// BuildKit's `ParseDevice`: the first bare field (or unknown key) is the name.
fn parse_device(raw: &str) -> Result<Device, String> {
    let fields = csv_fields(raw).map_err(|e| format!("failed to parse csv devices: {e}"))?;
    let mut name = String::new();
    let mut required = false;
    for field in &fields {
        let Some((key, value)) = field.split_once('=') else {
            if field.to_lowercase() == "required" {
                required = true;
            } else if name.is_empty() {
                name = field.clone();
            } else {
                return Err(format!("invalid field '{field}' must be a key=value pair"));
            }
            continue;
        };
        match key.to_lowercase().as_str() {
            "name" => {
                if !name.is_empty() {
                    return Err(format!("device name already set to {name}"));
                }
                name = value.to_string();
            }
            "required" => {
                required = match value {
                    "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                    "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                    _ => return Err(format!("invalid value for required: {value}")),
                };
            }
            other => {
                if name.is_empty() {
                    name = field.clone();
                } else {
                    return Err(suggest::with_hint(
                        format!("unexpected key '{other}' in '{field}'"),
                        other,
                        &["name", "required"],
                        true,
                    ));
                }
            }
        }
    }
    Ok(Device { name, required })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::instructions::mount::MountType;
    use crate::dockerfile::instructions::test_support::{heredoc, json_node, node, Recorder};

    #[test]
    fn shell_and_exec_form() {
        let r = parse_run(&node("run", &[], &["echo hi && true"], 2)).unwrap();
        assert_eq!(r.cmd_line.args, ["echo hi && true"]);
        assert!(r.cmd_line.prepend_shell);
        assert_eq!(r.network, NetworkMode::Default);
        assert_eq!(r.security, SecurityMode::Sandbox);
        assert!(r.mounts.is_empty() && r.devices.is_empty() && r.flags_used.is_empty());
        assert_eq!(r.span, Span::new(2, 2));
        assert_eq!(r.original, "RUN echo hi && true");

        let r = parse_run(&json_node("run", &[], &["echo", "hi"], 2)).unwrap();
        assert_eq!(r.cmd_line.args, ["echo", "hi"]);
        assert!(!r.cmd_line.prepend_shell);
    }

    #[test]
    fn heredocs_are_attached() {
        let mut n = node("run", &[], &["<<EOF"], 1);
        n.heredocs.push(heredoc("EOF", "echo hi\n", true));
        let r = parse_run(&n).unwrap();
        assert_eq!(r.heredocs.len(), 1);
        assert_eq!(r.heredocs[0].content, "echo hi\n");
        assert_eq!(r.cmd_line.args, ["<<EOF"]);
    }

    #[test]
    fn network_and_security() {
        for (v, want) in [
            ("none", NetworkMode::None),
            ("host", NetworkMode::Host),
            ("default", NetworkMode::Default),
        ] {
            let f = format!("--network={v}");
            let r = parse_run(&node("run", &[&f], &["x"], 1)).unwrap();
            assert_eq!(r.network, want);
            assert_eq!(r.network.as_str(), v);
        }
        let r = parse_run(&node("run", &["--security=insecure"], &["x"], 1)).unwrap();
        assert_eq!(r.security, SecurityMode::Insecure);
        assert_eq!(r.flags_used, ["security"]);
        let r = parse_run(&node("run", &["--security=sandbox"], &["x"], 1)).unwrap();
        assert_eq!(r.security.as_str(), "sandbox");

        let e = parse_run(&node("run", &["--network=bridge"], &["x"], 4)).unwrap_err();
        assert_eq!(e.message, "invalid network mode \"bridge\"");
        assert_eq!(e.span, Span::new(4, 4));
        let e = parse_run(&node("run", &["--security=root"], &["x"], 1)).unwrap_err();
        assert_eq!(e.message, "security \"root\" is not valid");
        let e = parse_run(&node("run", &["--network"], &["x"], 1)).unwrap_err();
        assert_eq!(e.message, "missing a value on flag: --network");
    }

    #[test]
    fn mounts_are_repeatable_and_deferred() {
        let r = parse_run(&node(
            "run",
            &[
                "--mount=type=cache,target=/root/.cache",
                "--mount=from=build,target=/b",
                "--mount=type=$T,target=/t",
            ],
            &["make"],
            1,
        ))
        .unwrap();
        assert_eq!(r.mounts.len(), 3);
        assert_eq!(r.mounts[1].from.as_deref(), Some("build"));
        assert!(r.mounts.iter().all(|m| m.resolved.is_none()));
        assert_eq!(r.flags_used, ["mount"]);
    }

    #[test]
    fn expand_resolves_mounts() {
        let mut r = parse_run(&node(
            "run",
            &[
                "--mount=type=cache,target=$HOME/c",
                "--mount=type=secret,id=$S",
            ],
            &["make"],
            1,
        ))
        .unwrap();
        r.expand(&mut Recorder::default()).unwrap();
        let m0 = r.mounts[0].resolved.as_ref().unwrap();
        assert_eq!(m0.kind, MountType::Cache);
        assert_eq!(m0.target.as_deref(), Some("<HOME>/c"));
        let m1 = r.mounts[1].resolved.as_ref().unwrap();
        assert_eq!(m1.id.as_deref(), Some("<S>"));
        // The command itself is never expanded.
        assert_eq!(r.cmd_line.args, ["make"]);
    }

    #[test]
    fn mount_errors() {
        let e = parse_run(&node("run", &["--mount=from=$X"], &["x"], 3)).unwrap_err();
        assert_eq!(
            e.message,
            "'from' doesn't support variable expansion, define alias stage instead"
        );
        let mut r = parse_run(&node("run", &["--mount=type=nope"], &["x"], 3)).unwrap();
        let e = r.expand(&mut Recorder::default()).unwrap_err();
        assert_eq!(e.message, "unsupported mount type \"nope\"");
        assert_eq!(e.span, Span::new(3, 3));
    }

    #[test]
    fn unknown_flag() {
        let e = parse_run(&node("run", &["--mout=type=cache"], &["x"], 1)).unwrap_err();
        assert_eq!(e.message, "unknown flag: --mout (did you mean mount?)");
        let e = parse_run(&node(
            "run",
            &["--network=none", "--network=host"],
            &["x"],
            1,
        ))
        .unwrap_err();
        assert_eq!(e.message, "duplicate flag specified: --network");
    }

    #[test]
    fn devices() {
        let r = parse_run(&node(
            "run",
            &[
                "--device=nvidia.com/gpu=all",
                "--device=class1,required",
                "--device=name=foo,required=false",
            ],
            &["x"],
            1,
        ))
        .unwrap();
        assert_eq!(
            r.devices,
            [
                Device {
                    name: "nvidia.com/gpu=all".into(),
                    required: false
                },
                Device {
                    name: "class1".into(),
                    required: true
                },
                Device {
                    name: "foo".into(),
                    required: false
                },
            ]
        );
        assert_eq!(
            parse_device("a,b").unwrap_err(),
            "invalid field 'b' must be a key=value pair"
        );
        assert_eq!(
            parse_device("a,name=b").unwrap_err(),
            "device name already set to a"
        );
        assert_eq!(
            parse_device("a,required=x").unwrap_err(),
            "invalid value for required: x"
        );
        assert_eq!(
            parse_device("a,nam=b").unwrap_err(),
            "unexpected key 'nam' in 'nam=b' (did you mean name?)"
        );
    }
}
