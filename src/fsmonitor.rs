//! A file-system monitor, asked the way git asks it: through the hook that
//! `core.fsmonitor` names (protocol version 2, as Watchman's
//! `fsmonitor-watchman` hook speaks it). Given the token of the last
//! answer, the hook names every path changed in the work tree since, and
//! gives a new token. With it the work-tree pull-request check skips the
//! directories nothing touched, where without it it would stat a million
//! files ([`crate::store::IndexedWorkTree`]).
//!
//! What is kept between runs is [`KnownIds`]: the git tree id of each
//! directory whose whole content the last run knew, with the token taken
//! before it looked. A directory the monitor reports untouched since that
//! token still has that content. Like git, this trusts the monitor: a
//! monitor that misses a change hides it from the work-tree check, never
//! from `verify --rev`, which reads git objects only.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum FsMonitorError {
    #[error("cannot run the core.fsmonitor hook `{hook}`: {source}")]
    Run { hook: String, source: std::io::Error },
    #[error("the core.fsmonitor hook `{hook}` failed ({status}){stderr}")]
    Failed { hook: String, status: std::process::ExitStatus, stderr: String },
    #[error("the core.fsmonitor hook `{hook}` gave no token (protocol version 2 answers `<token>\\0<path>\\0…`)")]
    NoToken { hook: String },
}

/// The hook a repository configures, run from its work tree as git runs it.
#[derive(Clone, Debug)]
pub struct Monitor {
    hook: String,
    work_dir: PathBuf,
}

impl Monitor {
    /// The hook `repo` configures; None without one, or with one this tool
    /// cannot ask: git's built-in daemon (`core.fsmonitor=true`, spoken to
    /// over git's own IPC) and hooks of protocol version 1.
    pub fn configured(repo: &gix::Repository) -> Option<Monitor> {
        // As git refuses a repository another user owns, so the hook a
        // stranger's config names never runs.
        if repo.git_dir_trust() != gix::sec::Trust::Full {
            return None;
        }
        let config = repo.config_snapshot();
        let hook = config.string("core.fsmonitor")?.to_string();
        if hook.is_empty() || config.boolean("core.fsmonitor").is_some() {
            return None;
        }
        if config.integer("core.fsmonitorHookVersion").is_some_and(|version| version != 2) {
            return None;
        }
        Some(Monitor { hook, work_dir: repo.workdir()?.to_path_buf() })
    }

    /// What changed since `token` (empty: since ever), and the token to ask
    /// from next time. The hook runs through the shell, with the work tree
    /// as its directory and `2 <token>` as its arguments, as git runs it.
    pub fn changed_since(&self, token: &str) -> Result<Answer, FsMonitorError> {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{} \"$@\"", self.hook))
            .arg(&self.hook)
            .arg("2")
            .arg(token)
            .current_dir(&self.work_dir)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|source| FsMonitorError::Run { hook: self.hook.clone(), source })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().replace('\n', " ");
            let stderr = if stderr.is_empty() { stderr } else { format!(": {stderr}") };
            return Err(FsMonitorError::Failed { hook: self.hook.clone(), status: output.status, stderr });
        }
        Answer::parse(&output.stdout).ok_or_else(|| FsMonitorError::NoToken { hook: self.hook.clone() })
    }
}

/// One answer of the hook.
#[derive(Debug)]
pub struct Answer {
    pub token: String,
    pub changed: Changed,
}

impl Answer {
    /// `<token>\0<path>\0<path>…`; None without a token.
    fn parse(stdout: &[u8]) -> Option<Answer> {
        let mut fields = stdout.split(|&b| b == 0);
        let token = String::from_utf8_lossy(fields.next()?).into_owned();
        if token.is_empty() || stdout.len() == token.len() {
            return None;
        }
        let paths: Vec<String> =
            fields.filter(|f| !f.is_empty()).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        // Git's rule: a path starting with `/` (the hook's "/", for a
        // fresh watch) means everything may have changed.
        if paths.iter().any(|p| p.starts_with('/')) {
            return Some(Answer { token, changed: Changed::Everything });
        }
        let mut under = HashSet::new();
        let mut reported = HashSet::new();
        for path in paths {
            let path = path.trim_end_matches('/').to_string();
            let mut dir = path.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                under.insert(parent.to_string());
                dir = parent;
            }
            under.insert(path.clone());
            reported.insert(path);
        }
        Some(Answer { token, changed: Changed::Paths { reported, under } })
    }
}

/// What the monitor says changed.
#[derive(Debug)]
pub enum Changed {
    Everything,
    Paths {
        /// The paths reported, without a trailing `/`.
        reported: HashSet<String>,
        /// Each reported path and every directory above it.
        under: HashSet<String>,
    },
}

impl Changed {
    /// Whether anything at or under `dir` (repo-relative) may have changed:
    /// a path reported in it, or `dir` or a directory above it reported
    /// itself, which, as git takes it, may stand for everything below.
    pub fn touches(&self, dir: &str) -> bool {
        match self {
            Changed::Everything => true,
            // The work tree's root holds every reported path.
            Changed::Paths { reported, .. } if dir.is_empty() => !reported.is_empty(),
            Changed::Paths { reported, under } => {
                if under.contains(dir) {
                    return true;
                }
                let mut above = dir;
                while let Some((parent, _)) = above.rsplit_once('/') {
                    if reported.contains(parent) {
                        return true;
                    }
                    above = parent;
                }
                false
            }
        }
    }
}

/// Named in the file: state written by another version is not read.
const SCHEMA: &str = "gitops-ledger/fsmonitor/v1";
/// Far above any real state (a tree id per directory): a larger file is ignored.
const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// The git ids of directories (tree ids) and files (blob ids), by
/// repo-relative path, whose whole content a run knew as of `token`: it was
/// taken before that run read anything. Kept in
/// `<git dir>/gitops-ledger/fsmonitor.json`, per work tree.
#[derive(Clone, Debug, Default)]
pub struct KnownIds {
    token: String,
    pub dirs: BTreeMap<String, gix::ObjectId>,
    pub files: BTreeMap<String, gix::ObjectId>,
}

/// [`KnownIds`] on disk, ids in hex, with the monitor whose token it is.
#[derive(Serialize, Deserialize)]
struct StateFile {
    schema: String,
    hook: String,
    token: String,
    dirs: BTreeMap<String, String>,
    files: BTreeMap<String, String>,
}

impl KnownIds {
    fn path(git_dir: &Path) -> PathBuf {
        git_dir.join("gitops-ledger").join("fsmonitor.json")
    }

    /// What the last run with `monitor` left; empty (token too) when there
    /// is nothing usable.
    pub fn load(git_dir: &Path, monitor: &Monitor) -> KnownIds {
        let read = || -> Option<KnownIds> {
            use std::io::Read;
            let mut bytes = Vec::new();
            std::fs::File::open(Self::path(git_dir)).ok()?.take(MAX_STATE_BYTES).read_to_end(&mut bytes).ok()?;
            let state: StateFile = serde_json::from_slice(&bytes).ok()?;
            if state.schema != SCHEMA || state.hook != monitor.hook {
                return None;
            }
            let ids = |hex: BTreeMap<String, String>| {
                hex.into_iter()
                    .map(|(path, id)| Some((path, gix::ObjectId::from_hex(id.as_bytes()).ok()?)))
                    .collect::<Option<_>>()
            };
            Some(KnownIds { token: state.token, dirs: ids(state.dirs)?, files: ids(state.files)? })
        };
        read().unwrap_or_default()
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// What the monitor did not see touched, as of the answer's token.
    pub fn still_known(mut self, answer: &Answer) -> KnownIds {
        self.dirs.retain(|dir, _| !answer.changed.touches(dir));
        self.files.retain(|file, _| !answer.changed.touches(file));
        self.token = answer.token.clone();
        self
    }

    /// Writes the state for the next run, or nothing (it is only a cache).
    pub fn save(&self, git_dir: &Path, monitor: &Monitor) {
        let hex = |ids: &BTreeMap<String, gix::ObjectId>| {
            ids.iter().map(|(path, id)| (path.clone(), id.to_hex().to_string())).collect()
        };
        let state = StateFile {
            schema: SCHEMA.to_string(),
            hook: monitor.hook.clone(),
            token: self.token.clone(),
            dirs: hex(&self.dirs),
            files: hex(&self.files),
        };
        if let Ok(bytes) = serde_json::to_vec(&state) {
            crate::store::persist_best_effort(&Self::path(git_dir), &bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(stdout: &[u8]) -> Answer {
        Answer::parse(stdout).unwrap()
    }

    #[test]
    fn a_reported_path_touches_its_directories_and_a_reported_directory_everything_below() {
        let changed = answer(b"c:1\0promotions/apps/web/00000003.json\0promotions/apps/web\0").changed;
        assert!(changed.touches("promotions/apps/web"));
        assert!(changed.touches("promotions/apps"));
        assert!(changed.touches("promotions"));
        assert!(!changed.touches("promotions/apps/api"));
        assert!(!changed.touches("promotions/apps/we"));
        assert!(!changed.touches("promotions/policies"));
        assert!(changed.touches(""), "the work tree's root holds every path");

        let changed = answer(b"c:1\0promotions/apps/\0").changed;
        assert!(changed.touches("promotions/apps/api"));
        assert!(!changed.touches("promotions/policies"));
    }

    #[test]
    fn a_path_starting_with_a_slash_means_everything_and_no_token_is_no_answer() {
        assert!(matches!(answer(b"c:1\0/c:2\0a\0").changed, Changed::Everything));
        assert!(!answer(b"c:1\0").changed.touches("x"));
        assert!(!answer(b"c:1\0").changed.touches(""));
        assert!(Answer::parse(b"").is_none());
        assert!(Answer::parse(b"c:1").is_none());
        assert!(Answer::parse(b"\0a\0").is_none());
    }
}
