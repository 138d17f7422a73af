//! What installing the tool gives a user beyond the binary: a version line
//! naming the commit.

use std::path::Path;
use std::process::Output;

use crate::common::TestRepo;

#[path = "../../build/commit.rs"]
mod commit;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `git log -1 --format='%h %cs'` of the checkout the binary was built from.
fn built_from() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(crate_dir)
        .args(["log", "-1", "--no-show-signature", "--abbrev=7", "--format=%h %cs"])
        .output()
        .unwrap();
    stdout(&out).trim().to_string()
}

#[test]
fn version_names_the_commit_and_its_date() {
    let repo = TestRepo::new();
    let expected = format!("gitops-ledger {} ({})\n", env!("CARGO_PKG_VERSION"), built_from());
    assert_eq!(repo.ok(&["--version"]), expected);
    assert_eq!(repo.ok(&["verify", "--version"]), expected.replace("gitops-ledger", "gitops-ledger-verify"));
}

#[test]
fn version_from_the_packaged_crate_names_its_commit_and_without_either_only_the_version() {
    let vcs_info =
        "{\n  \"git\": {\n    \"sha1\": \"0123456789abcdef0123456789abcdef01234567\"\n  },\n  \"path_in_vcs\": \"\"\n}";
    let cases = [
        (Some("bc1e1be 2026-12-06\n"), Some(vcs_info), " (bc1e1be 2026-12-06)"),
        (None, Some(vcs_info), " (0123456)"),
        (Some(""), Some(vcs_info), " (0123456)"),
        (None, Some("{\"git\": {\"sha1\": \"not a commit\"}}"), ""),
        (None, Some("{\"path_in_vcs\": \"\"}"), ""),
        (None, None, ""),
    ];
    for (git_log, cargo_vcs_info, suffix) in cases {
        assert_eq!(commit::version_suffix(git_log, cargo_vcs_info), suffix, "{git_log:?} {cargo_vcs_info:?}");
    }
}
