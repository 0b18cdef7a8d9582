//! WORKDIR: the working directory is created when it does not exist, as BuildKit's
//! `Mkdir(path, 0755, WithParents, WithUser(USER))` does — owned by the stage's USER
//! (resolved against the image's /etc/passwd and /etc/group), root when none. A directory
//! that already exists (symlinks followed inside the image) makes no layer.

use super::commit::commit_step;
use super::copy::{self, chown_needs_lookup, resolve_chown};
use super::error::{StepError, StepResult};
use super::layer::Layer;
use super::lower::{read_file, LayeredDest};
use super::step_cx::StepCx;
use super::StageResult;

/// Create `path` in a new layer on top of `st` (owned by the USER in force before step
/// `cx`) unless it is already a directory.
pub fn run(cx: &StepCx<'_, '_>, st: &mut StageResult, path: &str) -> StepResult<Option<Layer>> {
    let trees = &cx.stores.trees;
    let (parent, dest) = trees.dest(&mut st.layers, cx.reporter)?;
    let owner = if cx.user.is_empty() {
        (0, 0)
    } else {
        user_ids(&dest, cx.user).map_err(StepError::Workdir)?
    };
    let active = trees.snapshots.prepare(parent.as_ref())?;
    let made = copy::mkdir_all(path, owner, &dest, cx.policy.ownership, &active.upper);
    match made {
        Ok(true) => commit_step(cx, active, &st.layers, true),
        Ok(false) => {
            trees.snapshots.abort(active)?;
            Ok(None)
        }
        Err(e) => {
            let _ = trees.snapshots.abort(active);
            Err(StepError::Workdir(e))
        }
    }
}

/// `user[:group]` as ids, names looked up in the image's databases.
pub(crate) fn user_ids(dest: &LayeredDest, spec: &str) -> Result<(u32, u32), copy::CopyError> {
    if !chown_needs_lookup(spec) {
        return resolve_chown(spec, None, None);
    }
    let text = |path: &str| -> Result<Option<String>, copy::CopyError> {
        let bytes = read_file(dest, path).map_err(copy::CopyError::io("read", path))?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    let passwd = text("/etc/passwd")?;
    let group = text("/etc/group")?;
    resolve_chown(spec, passwd.as_deref(), group.as_deref())
}
