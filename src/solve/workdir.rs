//! WORKDIR: the working directory is created when it does not exist, as BuildKit's
//! `Mkdir(path, 0755, WithParents, WithUser(USER))` does — owned by the stage's USER
//! (resolved against the image's /etc/passwd and /etc/group), root when none. A directory
//! that already exists (symlinks followed inside the image) makes no layer.

use super::copy::{self, chown_needs_lookup, resolve_chown};
use super::error::{StepError, StepResult};
use super::layer::Layer;
use super::lower::{read_file, LayeredDest};
use super::stage::commit_step;
use super::{SolveEnv, StageResult};

/// Create `path` in a new layer on top of `st` unless it is already a directory.
pub fn run(
    env: &SolveEnv<'_>,
    st: &mut StageResult,
    path: &str,
    user: &str,
) -> StepResult<Option<Layer>> {
    let (parent, dest) = env.rootfs.dest(&mut st.layers, env.reporter)?;
    let owner = if user.is_empty() {
        (0, 0)
    } else {
        user_ids(&dest, user).map_err(StepError::Workdir)?
    };
    let active = env.rootfs.snapshots.prepare(parent.as_ref())?;
    let made = copy::mkdir_all(path, owner, &dest, env.ownership, &active.upper);
    match made {
        Ok(true) => commit_step(env, active, &st.layers, true),
        Ok(false) => {
            env.rootfs.snapshots.abort(active)?;
            Ok(None)
        }
        Err(e) => {
            let _ = env.rootfs.snapshots.abort(active);
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
