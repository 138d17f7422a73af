//! `verify` over whole trees: the bundled example, and findings reported as
//! what they are.

use crate::common::{data_dir, TestRepo};

/// The README's first command: the bundled example verifies with its pin.
#[test]
fn the_bundled_example_verifies_with_its_pinned_policy() {
    let example = data_dir().join("../../examples/gitops-config");
    let readme = std::fs::read_to_string(example.join("README.md")).unwrap();
    let trust = readme.split("--trust ").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap();
    let repo = TestRepo::new();
    let out = repo.cmd().args(["-C", example.to_str().unwrap(), "verify", "--trust", trust]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("every rule holds"), "{text}");
}

/// Regression: an altered landed record was also reported as "pending" with
/// advice to approve it; the finding is the bad signature, not a missing one.
#[test]
fn tampered_record_is_reported_as_tampered_not_as_pending() {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.promote("staging", 'a', "alice", "2026-11-27T09:00:00Z");
    repo.promote("dev", 'b', "ci", "2026-11-27T10:00:00Z");
    repo.edit_json("promotions/apps/api/00000002.json", |r| r["reason"] = "quietly edited".into());
    let out = repo.fails(1, &["verify"]);
    assert!(
        out.contains("promotions/apps/api/00000002.json (api@2): signature by alice: signature does not verify"),
        "{out}"
    );
    assert!(out.contains("promotions/apps/api/00000003.json (api@3): prev is sha256:"), "{out}");
    assert!(out.contains("an earlier record was changed after this one was signed (rule: chain)"), "{out}");
    assert!(!out.contains("pending:") && !out.contains("approve"), "{out}");
}

use crate::common::Forged;

/// dev → staging → production of digest 'a' (2 signatures), all valid.
fn promoted() -> TestRepo {
    let repo = TestRepo::with_signed_policy();
    repo.forge(Forged::new(1, "dev", 'a', "2026-11-25T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(2, "staging", 'a', "2026-11-25T09:00:00Z", &["alice"]));
    repo.forge(Forged::new(3, "production", 'a', "2026-11-26T10:00:00Z", &["alice", "bob"]));
    repo.project();
    repo.ok(&["verify"]);
    repo
}

fn verify_fails_with(repo: &TestRepo, needles: &[&str]) -> String {
    let out = repo.fails(1, &["verify"]);
    for needle in needles {
        assert!(out.contains(needle), "expected {needle:?} in:\n{out}");
    }
    assert!(!out.contains("panicked"), "{out}");
    out
}

#[test]
fn a_deleted_record_breaks_the_chain() {
    let repo = promoted();
    std::fs::remove_file(repo.root.join("promotions/apps/api/00000002.json")).unwrap();
    verify_fails_with(&repo, &["(api@3): seq 3 does not follow 1: records were deleted or reordered (rule: chain)"]);
}

#[test]
fn a_reordered_chain_is_refused() {
    let repo = promoted();
    let two = repo.read("promotions/apps/api/00000002.json");
    let three = repo.read("promotions/apps/api/00000003.json");
    repo.write("promotions/apps/api/00000002.json", &three);
    repo.write("promotions/apps/api/00000003.json", &two);
    verify_fails_with(
        &repo,
        &["promotions/apps/api/00000002.json (api@3): holds api@3 but that record belongs in promotions/apps/api/00000003.json (rule: schema)"],
    );
}

#[test]
fn a_production_digest_that_skipped_staging_fails_provenance() {
    let repo = promoted();
    repo.forge(Forged::new(4, "dev", 'b', "2026-11-27T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(5, "production", 'b', "2026-11-27T09:00:00Z", &["alice", "bob"]));
    verify_fails_with(
        &repo,
        &["promotions/apps/api/00000005.json (api@5): production digest sha256:bbbbbbbbbbbb (ghcr.io/o/api) was never promoted to staging; promote it to staging first (rule: provenance)"],
    );
}

#[test]
fn a_ci_bot_signature_on_production_does_not_count() {
    let repo = promoted();
    repo.forge(Forged::new(4, "production", 'a', "2026-11-27T10:00:00Z", &["alice", "ci"]));
    verify_fails_with(
        &repo,
        &["(api@4): ci may not sign for production (policy version 1 allows alice, bob, carol) (rule: signature)"],
    );
}

#[test]
fn one_person_signing_twice_counts_once() {
    let repo = promoted();
    repo.forge(Forged::new(4, "production", 'a', "2026-11-27T10:00:00Z", &["alice", "alice"]));
    verify_fails_with(
        &repo,
        &[
            "(api@4): alice signed twice; a signer counts once (rule: signature)",
            "(api@4): pending: production needs 2 distinct signers of alice, bob, carol, 1 more",
        ],
    );
}

#[test]
fn one_approval_when_two_are_required_is_pending_not_failing() {
    let repo = promoted();
    repo.forge(Forged::new(4, "production", 'a', "2026-11-27T10:00:00Z", &["carol"]));
    repo.project();
    let out = repo.ok(&["verify"]);
    assert!(out.contains("(api@4): pending: production needs 2 distinct signers"), "{out}");
    assert!(out.contains("every rule holds; 1 record pending approval (not a failure)"), "{out}");
}

#[test]
fn a_soak_too_short_fails() {
    let repo = promoted();
    repo.forge(Forged::new(4, "dev", 'b', "2026-11-27T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(5, "staging", 'b', "2026-11-27T09:00:00Z", &["bob"]));
    repo.forge(Forged::new(6, "production", 'b', "2026-11-27T09:30:00Z", &["alice", "bob"]));
    verify_fails_with(
        &repo,
        &["(api@6): digest sha256:bbbbbbbbbbbb entered staging at 2026-11-27T09:00:00Z, less than the 24h soak before 2026-11-27T09:30:00Z; promote at 2026-11-28T09:00:00Z or later (rule: soak)"],
    );
}

#[test]
fn a_record_inside_a_freeze_window_fails_unless_it_is_an_allowed_rollback() {
    let repo = TestRepo::new();
    repo.init_policy(|policy| {
        policy["environments"][2]["freeze"] =
            serde_json::json!([{"start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z", "allow_rollback": true}]);
    });
    repo.forge(Forged::new(1, "dev", 'a', "2026-11-20T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(2, "staging", 'a', "2026-11-20T09:00:00Z", &["alice"]));
    repo.forge(Forged::new(3, "production", 'a', "2026-11-21T10:00:00Z", &["alice", "bob"]));
    repo.forge(Forged::new(4, "dev", 'b', "2026-11-22T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(5, "staging", 'b', "2026-11-22T09:00:00Z", &["alice"]));
    repo.forge(Forged::new(6, "production", 'b', "2026-11-25T10:00:00Z", &["alice", "bob"]));
    repo.project();
    repo.ok(&["verify"]);
    let rollback =
        Forged { rollback: true, ..Forged::new(7, "production", 'a', "2026-11-26T10:00:00Z", &["alice", "bob"]) };
    repo.forge(rollback);
    repo.project();
    repo.ok(&["verify"]);
    repo.forge(Forged::new(8, "production", 'b', "2026-11-26T12:00:00Z", &["alice", "bob"]));
    verify_fails_with(
        &repo,
        &["(api@8): production is frozen from 2026-11-26T00:00:00Z until 2026-11-27T00:00:00Z (policy version 1); only rollbacks may land (rule: freeze)"],
    );
}

#[test]
fn a_rollback_to_a_digest_never_run_fails() {
    let repo = promoted();
    let rollback =
        Forged { rollback: true, ..Forged::new(4, "production", 'c', "2026-11-27T10:00:00Z", &["alice", "bob"]) };
    repo.forge(rollback);
    verify_fails_with(
        &repo,
        &["(api@4): rollback to sha256:cccccccccccc (ghcr.io/o/api), which production never ran", "(rule: rollback)"],
    );
}

#[test]
fn a_forward_dated_record_fails() {
    let repo = promoted();
    repo.forge(Forged::new(4, "dev", 'b', "2026-11-28T10:06:00Z", &["ci"]));
    verify_fails_with(&repo, &["(api@4): at 2026-11-28T10:06:00Z is in the future (now is 2026-11-28T10:00:00Z)"]);
}

#[test]
fn a_wrong_from_or_an_unknown_environment_fails_policy() {
    let repo = promoted();
    repo.forge(Forged {
        from: Some("dev"),
        ..Forged::new(4, "production", 'a', "2026-11-27T10:00:00Z", &["alice", "bob"])
    });
    verify_fails_with(
        &repo,
        &["(api@4): from is dev but policy version 1 says production comes from staging (rule: policy)"],
    );
    repo.forge(Forged::new(4, "qa", 'a', "2026-11-27T10:00:00Z", &["alice"]));
    verify_fails_with(&repo, &["(api@4): environment qa is not in policy version 1"]);
}

#[test]
fn a_rotation_signed_by_too_few_old_root_keys_fails_and_passes_once_signed() {
    let repo = promoted();
    repo.ok(&["policy", "new"]);
    repo.edit_json("promotions/policy/00000002.json", |policy| {
        policy["root"] = serde_json::json!({"signers": ["carol"], "threshold": 1});
    });
    repo.ok(&["policy", "sign", "--key", &repo.key_str("carol")]);
    verify_fails_with(
        &repo,
        &["promotions/policy/00000002.json (policy@2): rotation to version 2 needs 1 more signature(s) from the root signers of version 1 (alice, bob, carol) (rule: policy)"],
    );
    repo.ok(&["policy", "sign", "--key", &repo.key_str("bob")]);
    repo.ok(&["verify"]);
    // A record may now cite version 2.
    repo.forge(Forged { policy: 2, ..Forged::new(4, "dev", 'b', "2026-11-28T10:00:00Z", &["ci"]) });
    repo.project();
    repo.ok(&["verify"]);
}

#[test]
fn an_expired_policy_fails() {
    let repo = TestRepo::new();
    repo.init_policy(|policy| policy["expires"] = "2026-11-28T10:00:00Z".into());
    repo.ok(&["verify"]); // valid up to and including the expiry instant
    let mut later = repo.cmd();
    let out = later.env("GITOPS_LEDGER_NOW", "2026-11-28T10:00:01Z").arg("verify").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the newest policy expired at 2026-11-28T10:00:00Z; sign a new version"), "{text}");
    assert!(text.contains("(rule: expiry)"), "{text}");
}

#[test]
fn hostile_files_are_violations_never_panics() {
    let repo = promoted();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("promotions/apps/api/00000004.json", b"{\"schema\": \"gitops-ledger/promo".to_vec()),
        ("promotions/apps/web/00000001.json", vec![0xff, 0x00, 0xfe, 0x12, 0x80]),
        ("promotions/apps/big/00000001.json", format!("{{\"seq\": 1{}}}", "0".repeat(400)).into_bytes()),
        ("promotions/apps/deep/00000001.json", deep.into_bytes()),
        ("promotions/apps/api/notes.txt", b"hello".to_vec()),
        ("promotions/apps/Bad Name/x", b"{}".to_vec()),
        ("promotions/extra.json", b"{}".to_vec()),
        ("promotions/policy/00000002.json", vec![b'{'; 3]),
    ];
    for (path, bytes) in &cases {
        let full = repo.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, bytes).unwrap();
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/passwd", repo.root.join("promotions/apps/api/00000005.json")).unwrap();
    let out = verify_fails_with(&repo, &["(rule: schema)"]);
    for (path, _) in &cases {
        let named = path.strip_suffix("/x").unwrap_or(path);
        assert!(out.contains(&format!("{named}: ")), "{named} not named in:\n{out}");
    }
    #[cfg(unix)]
    assert!(out.contains("promotions/apps/api/00000005.json: is not a record"), "{out}");
}

#[test]
fn json_and_github_formats_report_the_same_findings() {
    let repo = promoted();
    repo.forge(Forged::new(4, "production", 'b', "2026-11-27T10:00:00Z", &["alice", "bob"]));
    repo.project();
    let json: serde_json::Value = serde_json::from_str(&repo.fails(1, &["verify", "--format", "json"])).unwrap();
    assert_eq!(json["result"], "fail");
    assert_eq!(json["counts"]["records"], 4);
    assert_eq!(json["counts"]["signatures"], 6);
    assert_eq!(json["violations"].as_array().unwrap().len(), 1);
    assert_eq!(json["violations"][0]["file"], "promotions/apps/api/00000004.json");
    assert_eq!(json["violations"][0]["record"], "api@4");
    assert_eq!(json["violations"][0]["rule"], "provenance");
    let github = repo.fails(1, &["verify", "--format", "github"]);
    assert!(github.contains("::error file=promotions/apps/api/00000004.json,title=provenance (api@4)::production digest sha256:bbbbbbbbbbbb"), "{github}");
    assert!(github.contains("::warning title=gitops-ledger::policy version 1"), "{github}");
}

#[test]
fn verify_rev_reads_git_objects_even_in_a_bare_or_shallow_clone() {
    let repo = promoted();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "ledger"]);
    // The work tree may say anything; --rev reads the commit.
    repo.write("promotions/apps/api/00000001.json", "junk");
    let out = repo.ok(&["verify", "--rev", "HEAD"]);
    assert!(out.contains("ok: 3 records of 1 apps"), "{out}");
    let bare = repo.keys.parent().unwrap().join("bare.git");
    let cloned = std::process::Command::new("git")
        .args(["clone", "-q", "--bare", repo.root.to_str().unwrap(), bare.to_str().unwrap()])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(cloned.success());
    let out = repo.ok(&["-C", bare.to_str().unwrap(), "verify", "--rev", "HEAD"]);
    assert!(out.contains("ok: 3 records of 1 apps, 4 signatures"), "{out}");
    let shallow = repo.keys.parent().unwrap().join("shallow");
    let url = format!("file://{}", repo.root.display());
    let cloned = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", "--no-checkout", &url, shallow.to_str().unwrap()])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(cloned.success());
    assert!(shallow.join(".git/shallow").exists(), "the clone is shallow");
    let out = repo.ok(&["-C", shallow.to_str().unwrap(), "verify", "--rev", "HEAD"]);
    assert!(out.contains("ok: 3 records of 1 apps, 4 signatures"), "a shallow clone with no checkout: {out}");
    repo.fails(2, &["verify", "--rev", "no-such-branch"]);
}

/// Regression (issue 10): verify decided "pending" from its threshold
/// violations, which are not raised when a signature is invalid, while
/// `project` decided it from the valid signatures alone. For a newest record
/// with a bad signature and too few valid signers, verify then expected a
/// projection that `project` never writes: drift that `project` could not
/// repair. Both now ask the one definition in `chain`.
#[test]
fn pending_divergence_between_verify_and_project_on_a_bad_signature() {
    let repo = promoted();
    repo.forge(Forged::new(4, "dev", 'b', "2026-11-27T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(5, "staging", 'b', "2026-11-27T09:00:00Z", &["alice"]));
    repo.forge(Forged::new(6, "production", 'b', "2026-11-28T09:30:00Z", &["alice", "bob"]));
    // bob's signature replaced by alice's over the same message: it does not verify under bob's key.
    let path = "promotions/apps/api/00000006.json";
    repo.edit_json(path, |r| r["signatures"][1]["sig"] = r["signatures"][0]["sig"].clone());
    repo.project();
    let check = repo.run(&["project", "--check"]);
    assert_eq!(check.status.code(), Some(0), "project leaves nothing to repair: {check:?}");
    let out = repo.fails(1, &["verify"]);
    assert!(
        out.contains(
            "(api@6): signature by bob: signature was made by a different key than the policy gives this signer"
        ),
        "{out}"
    );
    assert!(!out.contains("(rule: projection)"), "verify expects what project wrote: {out}");
    assert!(out.contains("FAILED: 6 records of 1 apps, 8 signatures, 1 policy version: 1 violation(s)"), "{out}");
}
