//! Build checks: BuildKit's Dockerfile lint rules, run on the syntax tree and the typed stages
//! before planning.
//!
//! Pipeline stage: front end, pure (no IO). Inputs: the [`Ast`] and the typed
//! [`Dockerfile`]; output: [`Finding`]s in the order BuildKit reports them (parser findings,
//! per-instruction findings, whole-file findings, then per-stage dispatch findings), each
//! worded as BuildKit's `linter/ruleset.go` words it. [`CheckConfig`] reads the `# check=`
//! directive or the `BUILDKIT_DOCKERFILE_CHECK` build arg (`skip=A,B`, `skip=all`,
//! `error=true`) and decides what is shown and whether the build fails.
//!
//! Rules that need a base image's config (`InvalidBaseImagePlatform`) or the build context
//! (`CopyIgnoredFile`) run later, in the solve; `UndefinedVar` needs the full expansion scope
//! of the plan and is not checked. Known differences from BuildKit: a `SHELL` inherited from
//! a base image is not seen by `JSONArgsRecommended`; `WORKDIR` and `EXPOSE` values holding
//! a variable are not checked; `# check=` comments above one instruction (BuildKit's
//! per-instruction configuration) are not read.

mod casing;
mod from_rules;
mod stage_rules;

use super::ast::Ast;
use super::instructions::Dockerfile;

/// The build arg that overrides the `check` directive, as in BuildKit.
pub const CHECK_BUILD_ARG: &str = "BUILDKIT_DOCKERFILE_CHECK";

/// One rule violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's name (`FromAsCasing`).
    pub rule: &'static str,
    /// What is wrong, as BuildKit words it.
    pub message: String,
    /// The Dockerfile line it points at (1-based).
    pub line: usize,
}

impl Finding {
    fn new(rule: &'static str, message: impl Into<String>, line: usize) -> Self {
        Finding {
            rule,
            message: message.into(),
            line,
        }
    }

    /// The short form BuildKit prints: `Rule: message (line N)`.
    pub fn short(&self) -> String {
        if self.line > 0 {
            format!("{}: {} (line {})", self.rule, self.message, self.line)
        } else {
            format!("{}: {}", self.rule, self.message)
        }
    }
}

/// Which checks run and what a violation does (BuildKit's `linter.Config`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConfig {
    /// `skip=all`: no check runs.
    pub skip_all: bool,
    /// Rules named in `skip=`.
    pub skip: Vec<String>,
    /// `error=true`: any violation fails the build.
    pub error: bool,
}

impl CheckConfig {
    /// Parse a `check` value (`skip=A,B;error=true`) as BuildKit's `ParseLintOptions` does.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let mut config = CheckConfig::default();
        if value.is_empty() {
            return Ok(config);
        }
        for part in value.splitn(3, ';') {
            let Some((key, v)) = part.split_once('=') else {
                return Err(format!("invalid check option {part:?}"));
            };
            match key.trim() {
                "skip" => match v.trim() {
                    "all" => config.skip_all = true,
                    list => config.skip = list.split(',').map(|r| r.trim().to_string()).collect(),
                },
                // Experimental rules are not implemented: enabling them enables nothing.
                "experimental" => {}
                "error" => {
                    config.error = parse_go_bool(v.trim()).ok_or_else(|| {
                        format!(
                            "failed to parse check option {part:?}: strconv.ParseBool: \
                             parsing {:?}: invalid syntax",
                            v.trim()
                        )
                    })?
                }
                other => return Err(format!("invalid check option {other:?}")),
            }
        }
        Ok(config)
    }

    /// The configuration in force: the build arg when given (it replaces the directive, as
    /// in BuildKit), else the `# check=` directive of `ast`, else the default.
    pub fn resolve(ast: &Ast, build_arg: Option<&str>) -> Result<Self, String> {
        if let Some(v) = build_arg {
            return Self::parse(v).map_err(|e| format!("failed to parse {CHECK_BUILD_ARG}: {e}"));
        }
        match ast.directives.iter().find(|d| d.name == "check") {
            Some(d) => Self::parse(&d.value),
            None => Ok(CheckConfig::default()),
        }
    }

    /// Whether findings of `rule` are not shown.
    pub fn skips(&self, rule: &str) -> bool {
        self.skip_all || self.skip.iter().any(|s| s == rule)
    }

    /// Keep the findings this configuration shows.
    pub fn filter(&self, findings: Vec<Finding>) -> Vec<Finding> {
        findings
            .into_iter()
            .filter(|f| !self.skips(f.rule))
            .collect()
    }

    /// With `error=true` and shown findings: BuildKit's error naming the rules violated
    /// (each once, in order of first violation).
    pub fn failure(&self, shown: &[Finding]) -> Option<String> {
        if !self.error || shown.is_empty() {
            return None;
        }
        let mut rules: Vec<&str> = Vec::new();
        for f in shown {
            if !rules.contains(&f.rule) {
                rules.push(f.rule);
            }
        }
        Some(format!(
            "lint violation found for rules: {}",
            rules.join(", ")
        ))
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Run every rule on `ast` and its typed form `df`; findings in BuildKit's order.
pub fn run(ast: &Ast, df: &Dockerfile) -> Vec<Finding> {
    let mut out = Vec::new();
    for w in &ast.warnings {
        out.push(Finding::new(
            "NoEmptyContinuation",
            "Empty continuation line",
            w.line,
        ));
    }
    casing::per_instruction(ast, &mut out);
    casing::consistent_casing(ast, &mut out);
    for lint in &df.warnings {
        out.push(Finding::new(
            lint.rule,
            lint.message.clone(),
            lint.span.start,
        ));
    }
    from_rules::check(ast, df, &mut out);
    stage_rules::check(ast, &mut out);
    out
}

#[cfg(test)]
mod tests;
