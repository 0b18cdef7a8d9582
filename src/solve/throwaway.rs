//! Which stages of a plan are throwaway: their layers reach no output. Only the target's
//! layers and those of the stages it stands on (`FROM stage`, again and again) are the
//! image's; a stage used only through `COPY --from` or `RUN --mount from=` gives files,
//! never layers. A throwaway stage's layers are written as plain tar (the blob digest is
//! the diff_id, nothing is compressed) and recorded as such in the build cache: a stage
//! whose layers do reach an output never takes such a record as it is (it compresses the
//! layer from its snapshot first, or runs the step again, see [`crate::solve::cached`]), so
//! no output ever holds one of these layers.

use crate::graph::{Plan, Source};

/// Whether the layers of the stage with Dockerfile index `index` reach no output of `plan`:
/// it is neither the target nor a stage the target is built on.
pub fn is_throwaway(plan: &Plan, index: usize) -> bool {
    let mut at = plan.target();
    // Each step goes to an earlier stage: the walk ends within the plan's length.
    for _ in 0..=plan.stages.len() {
        let Some(sp) = at else {
            return true;
        };
        if sp.index == index {
            return false;
        }
        at = match sp.base {
            Source::Stage(below) => plan.stage(below),
            _ => None,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{self, PlanOptions, Platform, UnknownImages};

    fn plan(dockerfile: &str) -> Plan {
        let ast = crate::dockerfile::parse(dockerfile).expect("parse the Dockerfile");
        let df = crate::dockerfile::instructions::parse_dockerfile(&ast).expect("instructions");
        let opts = PlanOptions::new(Platform::linux_amd64());
        graph::plan(&df, &opts, &UnknownImages).expect("plan")
    }

    fn throwaway(plan: &Plan) -> Vec<usize> {
        (plan.stages.iter())
            .map(|s| s.index)
            .filter(|&i| is_throwaway(plan, i))
            .collect()
    }

    #[test]
    fn stages_used_only_for_their_files_are_throwaway() {
        let p = plan(
            "FROM scratch AS build\nCOPY a /a\n\
             FROM scratch AS tools\nCOPY b /b\n\
             FROM scratch\nCOPY --from=build /a /a\nRUN --mount=type=bind,from=tools,target=/t true\n",
        );
        assert_eq!(throwaway(&p), [0, 1]);
    }

    #[test]
    fn the_target_and_the_stages_it_stands_on_are_not() {
        let p = plan(
            "FROM scratch AS base\nCOPY a /a\n\
             FROM base AS mid\nCOPY b /b\n\
             FROM scratch AS build\nCOPY c /c\n\
             FROM mid\nCOPY --from=build /c /c\n",
        );
        assert_eq!(throwaway(&p), [2]);
        assert!(!is_throwaway(&p, 3));
    }

    #[test]
    fn a_single_stage_is_the_target() {
        let p = plan("FROM scratch\nCOPY a /a\n");
        assert!(throwaway(&p).is_empty());
    }
}
