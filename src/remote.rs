//! The remote a writing command pushes to, and the one place the `git`
//! program runs: gix cannot push, and fetching and fast-forwarding the work
//! tree belong with the push, so all three use the user's git, with their
//! credentials, remotes and hooks. Everything else goes through gix.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("git: {0}")]
    Setup(String),
    #[error("cannot run git (needed to {action}): {source}")]
    Spawn { action: &'static str, source: std::io::Error },
    /// `git` ran and failed; its own words follow.
    #[error("`git {command}` failed:\n{stderr}")]
    Failed { command: String, stderr: String },
    /// The remote turned the push down for a reason a retry cannot fix (a hook, a protected branch).
    #[error(
        "{remote} refused the push of {branch}: {reason}; nothing was pushed, and the commit stays on your branch"
    )]
    Refused { remote: String, branch: String, reason: String },
    #[error(
        "{remote}'s {branch} and your branch have diverged (your branch has commits of its own that are not on \
         {remote}); push or rebase them first, then run this again"
    )]
    Diverged { remote: String, branch: String },
}

/// Where a push goes: a remote and a branch on it.
#[derive(Clone, Debug)]
pub struct Remote {
    /// The repository's work tree root, where git runs.
    root: PathBuf,
    pub name: String,
    /// The branch on the remote, as `refs/heads/…`.
    pub branch: String,
    /// The remote-tracking ref a fetch updates.
    tracking: String,
}

/// What a push came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Accepted,
    /// The remote moved on (or another push held its ref): fetch, rebuild, retry.
    Behind(String),
}

impl Remote {
    /// The remote of `work_tree`'s checked-out branch: `remote` when given,
    /// else the branch's upstream remote, else `origin`; the branch on it is
    /// the upstream's when that remote is the upstream's, else the same name.
    pub fn of_work_tree(work_tree: &Path, remote: Option<&str>) -> Result<Self, RemoteError> {
        let repo = gix::discover(work_tree).map_err(|e| RemoteError::Setup(format!("{}: {e}", work_tree.display())))?;
        let root = repo
            .workdir()
            .ok_or_else(|| RemoteError::Setup("--push needs a repository with a work tree, not a bare one".into()))?
            .to_path_buf();
        let head = repo
            .head_name()
            .map_err(|e| RemoteError::Setup(format!("reading HEAD: {e}")))?
            .ok_or_else(|| RemoteError::Setup("HEAD is detached; check out the branch to push to".into()))?;
        let local = head.shorten().to_string();
        let config = repo.config_snapshot();
        let upstream_remote = config.string(format!("branch.{local}.remote").as_str()).map(|r| r.to_string());
        let upstream_branch = config.string(format!("branch.{local}.merge").as_str()).map(|b| b.to_string());
        let name = remote.map(str::to_string).or_else(|| upstream_remote.clone()).unwrap_or_else(|| "origin".into());
        let branch = match upstream_branch {
            Some(branch) if upstream_remote.as_deref() == Some(name.as_str()) => branch,
            _ => format!("refs/heads/{local}"),
        };
        if repo.find_remote(name.as_str()).is_err() {
            return Err(RemoteError::Setup(format!(
                "there is no remote {name}; name one with --remote (`git remote -v` lists them)"
            )));
        }
        let short = branch.strip_prefix("refs/heads/").unwrap_or(&branch).to_string();
        let tracking = format!("refs/remotes/{name}/{short}");
        Ok(Remote { root, name, branch, tracking })
    }

    /// The branch as people name it: `origin/main`.
    pub fn display(&self) -> String {
        format!("{}/{}", self.name, self.branch.strip_prefix("refs/heads/").unwrap_or(&self.branch))
    }

    /// Pushes `commit` to the branch, never forced.
    pub fn push(&self, commit: &str) -> Result<Pushed, RemoteError> {
        let refspec = format!("{commit}:{}", self.branch);
        let output = self.git("push", &["push", "--porcelain", &self.name, &refspec])?;
        if output.status.success() {
            return Ok(Pushed::Accepted);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        // Porcelain: "!\t<from>:<to>\t[rejected] (fetch first)" and the like.
        let Some(line) = stdout.lines().find(|l| l.starts_with('!')) else {
            return Err(RemoteError::Failed { command: format!("push {} {refspec}", self.name), stderr });
        };
        let summary = line.split('\t').nth(2).unwrap_or(line).to_string();
        if is_behind(&summary) {
            Ok(Pushed::Behind(summary))
        } else {
            Err(RemoteError::Refused { remote: self.name.clone(), branch: self.display(), reason: summary })
        }
    }

    /// Fetches the branch into its remote-tracking ref, then fast-forwards
    /// the checked-out branch and work tree to it.
    pub fn catch_up(&self) -> Result<(), RemoteError> {
        let refspec = format!("+{}:{}", self.branch, self.tracking);
        self.run("fetch", &["fetch", "--quiet", "--no-tags", &self.name, &refspec])?;
        let output = self.git("fast-forward", &["merge", "--ff-only", "--quiet", &self.tracking])?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("Not possible to fast-forward") || stderr.contains("not possible to fast-forward") {
            return Err(RemoteError::Diverged { remote: self.name.clone(), branch: self.display() });
        }
        Err(RemoteError::Failed { command: format!("merge --ff-only {}", self.tracking), stderr: stderr.trim().into() })
    }

    fn run(&self, action: &'static str, args: &[&str]) -> Result<(), RemoteError> {
        let output = self.git(action, args)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(RemoteError::Failed {
                command: args.join(" "),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }

    fn git(&self, action: &'static str, args: &[&str]) -> Result<std::process::Output, RemoteError> {
        Command::new("git")
            .args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| RemoteError::Spawn { action, source })
    }
}

/// Whether a rejected ref update means "someone else got there first".
fn is_behind(summary: &str) -> bool {
    ["fetch first", "non-fast-forward", "stale info", "cannot lock ref", "failed to update ref", "incorrect old value"]
        .iter()
        .any(|reason| summary.contains(reason))
}

#[cfg(test)]
mod tests {
    use super::is_behind;

    #[test]
    fn only_a_moved_branch_is_retried() {
        assert!(is_behind("[rejected] (fetch first)"));
        assert!(is_behind("[rejected] (non-fast-forward)"));
        assert!(is_behind("[remote rejected] (cannot lock ref 'refs/heads/main': is at 1 but expected 2)"));
        assert!(!is_behind("[remote rejected] (pre-receive hook declined)"));
        assert!(!is_behind("[remote rejected] (protected branch hook declined)"));
    }
}
