//! The work-tree pull-request check with a file-system monitor: a real
//! Watchman daemon behind git's own `fsmonitor-watchman` hook, and hooks
//! written here to show what the check trusts and what it does on failure.

use std::path::PathBuf;

use crate::common::{tool_available, Forged, TestRepo};

/// A Watchman daemon of the test's own, on its own socket, shut down after.
struct Watchman {
    dir: tempfile::TempDir,
}

impl Watchman {
    fn start() -> Option<Watchman> {
        if !tool_available("watchman", "the work-tree check through Watchman") {
            return None;
        }
        let watchman = Watchman { dir: tempfile::tempdir().unwrap() };
        let out = watchman.command().arg("get-sockname").output().unwrap();
        assert!(out.status.success(), "watchman did not start: {}", String::from_utf8_lossy(&out.stderr));
        Some(watchman)
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// The client, with the daemon's files in the test's directory.
    fn command(&self) -> std::process::Command {
        let path = |name: &str| self.dir.path().join(name).display().to_string();
        let mut command = std::process::Command::new("watchman");
        command
            .arg(format!("--sockname={}", path("sock")))
            .arg(format!("--statefile={}", path("state")))
            .arg(format!("--logfile={}", path("log")))
            .arg(format!("--pidfile={}", path("pid")))
            .arg("--no-save-state");
        command
    }

    /// `verify --base base` in `repo`, the hook talking to this daemon.
    fn check(&self, repo: &TestRepo, code: i32) -> String {
        let out = repo.cmd().env("WATCHMAN_SOCK", self.sock()).args(["verify", "--base", "base"]).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "verify --base base should exit {code}:\n{text}");
        text
    }
}

impl Drop for Watchman {
    fn drop(&mut self) {
        let _ = self.command().arg("shutdown-server").output();
    }
}

const HOOK: &str = ".git/hooks/query-watchman";

/// Sets `core.fsmonitor` to a hook with this script. No git command runs
/// in the repo after this: it would ask the hook too, outside the test's daemon.
fn use_hook(repo: &TestRepo, script: &str) {
    repo.git(&["config", "core.fsmonitor", HOOK]);
    let hook = repo.root.join(HOOK);
    std::fs::write(&hook, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// git's sample hook for Watchman, as `git init` installs it.
fn use_watchman_hook(repo: &TestRepo) {
    let sample = std::fs::read_to_string(repo.root.join(".git/hooks/fsmonitor-watchman.sample"))
        .expect("git init installs the fsmonitor-watchman sample hook");
    use_hook(repo, &sample);
}

/// A landed ledger with a pull request on top: record 4 (dev of 'b'), committed.
fn pull_request() -> TestRepo {
    let repo = TestRepo::landed_at_base();
    repo.promote("dev", 'b', "ci", "2026-11-28T09:00:00Z");
    repo
}

fn state(repo: &TestRepo) -> serde_json::Value {
    repo.read_json(".git/gitops-ledger/fsmonitor.json")
}

const EDITED: &str = "promotions/apps/api/00000002.json (api@2): was modified after it landed";

#[test]
fn through_watchman_the_work_tree_check_finds_every_change_made_since_the_last_run() {
    let Some(watchman) = Watchman::start() else { return };
    let repo = pull_request();
    let api_tree = repo.git(&["rev-parse", "HEAD:promotions/apps/api"]);
    use_watchman_hook(&repo);

    let first = watchman.check(&repo, 0);
    assert!(first.contains("ok: 1 new or changed records against base ("), "{first}");
    // What the run kept: Watchman's clock, and the app's tree id as git computes it.
    let kept = state(&repo);
    assert!(kept["token"].as_str().unwrap().starts_with("c:"), "{kept}");
    assert_eq!(kept["dirs"]["promotions/apps/api"], api_tree.trim(), "{kept}");
    assert_eq!(watchman.check(&repo, 0), first, "a run from what the last one kept says the same");

    // Rewritten in place: the directory's own mtime does not move, the monitor still sees it.
    let landed = repo.read("promotions/apps/api/00000002.json");
    repo.write("promotions/apps/api/00000002.json", &format!("{landed} "));
    assert!(watchman.check(&repo, 1).contains(EDITED));
    assert!(watchman.check(&repo, 1).contains(EDITED), "still found when nothing changed since");
    repo.write("promotions/apps/api/00000002.json", &landed);
    assert_eq!(watchman.check(&repo, 0), first);

    let first_record = repo.read("promotions/apps/api/00000001.json");
    std::fs::remove_file(repo.root.join("promotions/apps/api/00000001.json")).unwrap();
    let deleted = watchman.check(&repo, 1);
    assert!(deleted.contains("promotions/apps/api/00000001.json"), "{deleted}");
    repo.write("promotions/apps/api/00000001.json", &first_record);
    assert_eq!(watchman.check(&repo, 0), first);

    repo.write("promotions/apps/web/00000001.json", "{}");
    let added = watchman.check(&repo, 1);
    assert!(added.contains("promotions/apps/web/00000001.json"), "{added}");
    std::fs::remove_dir_all(repo.root.join("promotions/apps/web")).unwrap();
    assert_eq!(watchman.check(&repo, 0), first);
}

#[test]
fn the_work_tree_check_trusts_the_monitor_as_git_does_and_a_full_verify_does_not() {
    // Two apps landed; the pull request touches only api.
    let repo = TestRepo::with_landed_records();
    repo.forge(Forged { app: "web", ..Forged::new(1, "dev", 'c', "2026-11-25T08:00:00Z", &["ci"]) });
    repo.project();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "landed"]);
    repo.git(&["tag", "base"]);
    repo.promote("dev", 'b', "ci", "2026-11-28T09:00:00Z");
    // A monitor that never reports a change.
    use_hook(&repo, "#!/bin/sh\nprintf 'token-1\\000'\n");
    let first = repo.ok(&["verify", "--base", "base"]);
    assert_eq!(state(&repo)["token"], "token-1");

    let landed = repo.read("promotions/apps/web/00000001.json");
    repo.write("promotions/apps/web/00000001.json", &landed.replace(&"c".repeat(64), &"d".repeat(64)));
    assert_eq!(repo.ok(&["verify", "--base", "base"]), first, "the directory it vouches for is not read");
    let full = repo.fails(1, &["verify"]);
    assert!(full.contains("promotions/apps/web/00000001.json (web@1): signature by ci"), "{full}");
}

#[test]
fn a_failing_monitor_hook_is_reported_and_every_file_is_compared_instead() {
    let repo = pull_request();
    use_hook(&repo, "#!/bin/sh\necho 'watchman: not running' >&2\nexit 3\n");
    insta::assert_snapshot!(repo.ok(&["verify", "--base", "base"]), @r"
    warning: the base's newest policy (version 1) is the trust anchor; pin version 1 with --trust to check the whole root
    warning: the core.fsmonitor hook `.git/hooks/query-watchman` failed (exit status: 3): watchman: not running; every file was compared with the index instead
    ok: 1 new or changed records against base (d79a57e1c6ea5b1929c571e095c98c0c6d1e7f21) of 1 apps, 1 signatures, 1 policy version: every rule holds
    ");
    let landed = repo.read("promotions/apps/api/00000002.json");
    repo.write("promotions/apps/api/00000002.json", &format!("{landed} "));
    assert!(repo.fails(1, &["verify", "--base", "base"]).contains(EDITED));
}
