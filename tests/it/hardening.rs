//! Concurrency, crashes mid-write and input limits.

use std::process::Stdio;

use crate::common::{digest, Forged, TestRepo};

fn image(fill: char) -> String {
    format!("ghcr.io/o/api@{}", digest(fill))
}

#[test]
fn an_append_while_another_holds_the_lock_is_refused_with_a_clear_message() {
    let repo = TestRepo::with_signed_policy();
    let lock = repo.hold_write_lock();
    let out = repo
        .fails(1, &["promote", "--app", "api", "--env", "dev", "--image", &image('a'), "--key", &repo.key_str("ci")]);
    assert!(out.contains("another gitops-ledger command is writing to this repo"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert_eq!(repo.status(), "");
    lock.unlock().unwrap();
    repo.ok(&["promote", "--app", "api", "--env", "dev", "--image", &image('a'), "--key", &repo.key_str("ci")]);
}

#[test]
fn two_promotes_at_once_never_share_a_sequence_number() {
    let repo = TestRepo::with_signed_policy();
    let spawn = |fill: char| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-ledger"));
        cmd.args(["promote", "--app", "api", "--env", "dev", "--image", &image(fill), "--key", &repo.key_str("ci")])
            .current_dir(&repo.root)
            .env("GITOPS_LEDGER_NOW", &repo.now)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    };
    for _ in 0..5 {
        let (a, b) = (spawn('a'), spawn('b'));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for out in [&a, &b] {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success()
                    || err.contains("another gitops-ledger command is writing")
                    || err.contains("took this sequence number first"),
                "{err}"
            );
        }
    }
    // Whatever interleaving happened, the chain is whole and verifies.
    repo.project();
    let out = repo.ok(&["verify"]);
    assert!(out.contains("every rule holds"), "{out}");
}

#[test]
fn two_branches_appending_the_same_app_conflict_and_keeping_both_fails_verify() {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.git(&["checkout", "-q", "-b", "left"]);
    repo.promote("dev", 'b', "ci", "2026-11-27T09:00:00Z");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["checkout", "-q", "-b", "right"]);
    repo.promote("dev", 'c', "ci", "2026-11-27T09:30:00Z");
    let merge = std::process::Command::new("git")
        .args(["merge", "-q", "left", "-m", "merge"])
        .current_dir(&repo.root)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(!merge.status.success(), "git refuses the merge");
    let conflicts = repo.git(&["diff", "--name-only", "--diff-filter=U"]);
    assert!(conflicts.contains("promotions/apps/api/00000002.json"), "{conflicts}");
    // A naive resolution keeps both: ours at 2, theirs renamed to 3.
    let theirs = repo.git(&["show", "left:promotions/apps/api/00000002.json"]);
    repo.git(&["checkout", "--ours", "promotions/apps/api/00000002.json", "versions.json"]);
    repo.write("promotions/apps/api/00000003.json", &theirs);
    let out = repo.fails(1, &["verify"]);
    assert!(out.contains("promotions/apps/api/00000003.json (api@2): holds api@2 but that record belongs in promotions/apps/api/00000002.json"), "{out}");
}

#[test]
fn a_process_killed_while_writing_leaves_the_old_or_the_new_state() {
    for point in ["before-rename", "after-record", "before-commit"] {
        let repo = TestRepo::with_signed_policy();
        repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
        let killed = repo
            .cmd()
            .env("GITOPS_LEDGER_CRASH_AT", point)
            .args([
                "promote",
                "--app",
                "api",
                "--env",
                "dev",
                "--image",
                &image('b'),
                "--key",
                &repo.key_str("ci"),
                "--commit",
            ])
            .output()
            .unwrap();
        assert_eq!(killed.status.code(), None, "{point}: the process must die by the injected abort");
        // The ledger file is either absent (old state) or whole (new state).
        let record = repo.root.join("promotions/apps/api/00000002.json");
        if record.exists() {
            let parsed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
            assert_eq!(parsed["seq"], 2, "{point}");
        }
        // Stray temp files are never read as records, and the next command works.
        repo.project();
        let out = repo.ok(&["verify"]);
        assert!(out.contains("every rule holds"), "{point}: {out}");
        repo.ok(&["promote", "--app", "api", "--env", "dev", "--image", &image('c'), "--key", &repo.key_str("ci")]);
    }
}

#[test]
fn every_input_limit_is_refused_with_its_name() {
    let repo = TestRepo::with_signed_policy();
    repo.forge(Forged::new(1, "dev", 'a', "2026-11-27T08:00:00Z", &["ci"]));
    let path = "promotions/apps/api/00000001.json";
    let base = repo.read_json(path);
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            {
                let mut r = base.clone();
                r["reason"] = "x".repeat(4097).into();
                r
            },
            "reason is longer than 4096 characters",
        ),
        (
            {
                let mut r = base.clone();
                r["images"] = (0..65)
                    .map(|i| serde_json::json!({"name": format!("ghcr.io/o/i{i}"), "digest": digest('a')}))
                    .collect();
                r
            },
            "65 images is more than the limit of 64",
        ),
        (
            {
                let mut r = base.clone();
                r["signatures"] =
                    (0..33).map(|i| serde_json::json!({"signer": format!("s{i}"), "sig": "AAAA"})).collect();
                r
            },
            "33 signatures is more than the limit of 32",
        ),
        (
            {
                let mut r = base.clone();
                r["reason"] = "y".repeat(300 * 1024).into();
                r
            },
            "larger than the 262144-byte limit",
        ),
        (
            {
                let mut r = base.clone();
                r["app"] = "../../etc".into();
                r
            },
            "is not a valid name",
        ),
        (
            {
                let mut r = base.clone();
                r["seq"] = 100_000_000u64.into();
                r
            },
            "out of range",
        ),
    ];
    for (record, needle) in cases {
        repo.write(path, &serde_json::to_string(&record).unwrap());
        let out = repo.fails(1, &["verify"]);
        assert!(out.contains(needle), "{needle:?} not in:\n{out}");
        assert!(out.contains("(rule: schema)"), "{out}");
    }
    let policy = repo.read("promotions/policy/00000001.json");
    repo.write("promotions/policy/00000001.json", &format!("{policy}{}", " ".repeat(1024 * 1024)));
    let out = repo.fails(1, &["verify"]);
    assert!(out.contains("promotions/policy/00000001.json: is larger than the 1048576-byte limit"), "{out}");
}
