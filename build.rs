//! Stamps `gitops-ledger --version` with the commit it was built from
//! (`GITOPS_LEDGER_COMMIT`, see build/commit.rs). It asks git only about the
//! repository whose root is this crate, so a crate unpacked inside some other
//! checkout does not take that checkout's commit, and it falls back silently:
//! no git, or no repository, only shortens the version line.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "build/commit.rs"]
mod commit;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/commit.rs");
    let crate_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let git_log = if is_repository_root(&crate_dir) {
        rerun_when_head_moves(&crate_dir);
        let format = "--format=%h %cs";
        git(&crate_dir, &["log", "-1", "--no-show-signature", &format!("--abbrev={}", commit::SHORT_ID_LEN), format])
    } else {
        None
    };
    let cargo_vcs_info = std::fs::read_to_string(crate_dir.join(".cargo_vcs_info.json")).ok();
    let suffix = commit::version_suffix(git_log.as_deref(), cargo_vcs_info.as_deref());
    println!("cargo:rustc-env=GITOPS_LEDGER_COMMIT={suffix}");
}

fn is_repository_root(crate_dir: &Path) -> bool {
    let top = git(crate_dir, &["rev-parse", "--show-toplevel"]).map(|top| PathBuf::from(top.trim()));
    match (top.and_then(|top| top.canonicalize().ok()), crate_dir.canonicalize().ok()) {
        (Some(top), Some(crate_dir)) => top == crate_dir,
        _ => false,
    }
}

/// A new commit, a checkout or a pull changes HEAD, the branch it names, or
/// packed-refs. Only files that exist are named: cargo reruns the script on
/// every build for one that does not.
fn rerun_when_head_moves(crate_dir: &Path) {
    let mut files = vec!["HEAD".to_string(), "packed-refs".to_string()];
    files.extend(git(crate_dir, &["symbolic-ref", "-q", "HEAD"]).map(|branch| branch.trim().to_string()));
    for file in files {
        let Some(path) = git(crate_dir, &["rev-parse", "--git-path", &file]) else { continue };
        let path = crate_dir.join(path.trim());
        if path.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// git's stdout, when it runs and succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}
