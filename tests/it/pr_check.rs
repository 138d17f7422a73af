//! `verify --base`: the pull-request check, relative to the base revision.

use crate::common::{Forged, TestRepo};

fn commit(repo: &TestRepo, message: &str) {
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", message]);
}

fn pr_check(repo: &TestRepo, code: i32, needles: &[&str]) -> String {
    let out = repo.fails(code, &["verify", "--rev", "HEAD", "--base", "base"]);
    for needle in needles {
        assert!(out.contains(needle), "expected {needle:?} in:\n{out}");
    }
    out
}

#[test]
fn a_pull_request_appending_a_valid_record_passes_and_checks_only_what_is_new() {
    let repo = TestRepo::landed_at_base();
    repo.promote("dev", 'b', "ci", "2026-11-28T09:00:00Z");
    let out = pr_check(&repo, 0, &["ok: 1 new or changed records against base ("]);
    assert!(out.contains("warning: the base's newest policy (version 1) is the trust anchor"), "{out}");
}

#[test]
fn a_pull_request_that_edits_a_landed_record_fails() {
    let repo = TestRepo::landed_at_base();
    repo.edit_json("promotions/apps/api/00000001.json", |r| r["at"] = "2026-11-25T07:00:00Z".into());
    commit(&repo, "quiet fix");
    pr_check(
        &repo,
        1,
        &[
            "promotions/apps/api/00000001.json (api@1): was modified after it landed; landed files are never edited",
            "(rule: append-only)",
        ],
    );
}

#[test]
fn a_pull_request_that_deletes_a_landed_record_fails() {
    let repo = TestRepo::landed_at_base();
    repo.git(&["rm", "-q", "promotions/apps/api/00000003.json"]);
    repo.git(&["commit", "-q", "-m", "undo production"]);
    pr_check(
        &repo,
        1,
        &[
            "promotions/apps/api/00000003.json: was deleted after it landed; the ledger is append-only",
            "(rule: append-only)",
        ],
    );
}

#[test]
fn a_pull_request_may_add_approvals_to_the_newest_record_only() {
    let repo = TestRepo::landed_at_base();
    repo.forge(Forged::new(4, "production", 'a', "2026-11-27T10:00:00Z", &["alice"]));
    repo.project();
    commit(&repo, "pending production");
    repo.git(&["tag", "-f", "base"]);
    repo.ok(&["approve", "api@4", "--key", &repo.key_str("carol"), "--commit"]);
    pr_check(&repo, 0, &["ok: 1 new or changed records"]);

    // Re-signing an older record is an edit, even when it only adds a signature.
    let repo = TestRepo::landed_at_base();
    repo.edit_json("promotions/apps/api/00000002.json", |r| {
        let extra = r["signatures"][0].clone();
        r["signatures"].as_array_mut().unwrap().push(extra);
    });
    commit(&repo, "extra signature");
    pr_check(&repo, 1, &["promotions/apps/api/00000002.json (api@2): was modified after it landed"]);
}

#[test]
fn a_new_record_must_cite_the_newest_policy() {
    let repo = TestRepo::landed_at_base();
    repo.ok(&["policy", "new"]);
    repo.ok(&["policy", "sign", "--key", &repo.key_str("alice")]);
    repo.ok(&["policy", "sign", "--key", &repo.key_str("bob")]);
    repo.forge(Forged { policy: 1, ..Forged::new(4, "dev", 'b', "2026-11-28T10:00:00Z", &["ci"]) });
    repo.project();
    commit(&repo, "old policy");
    pr_check(&repo, 1, &["(api@4): a new record cites policy version 1 but the newest is 2"]);
}

#[test]
fn a_pull_request_cannot_bring_its_own_root() {
    let repo = TestRepo::landed_at_base();
    repo.ok(&["policy", "new"]);
    repo.edit_json("promotions/policy/00000002.json", |policy| {
        policy["root"] = serde_json::json!({"signers": ["ci"], "threshold": 1});
        policy["environments"][2]["signers"] = serde_json::json!(["ci"]);
        policy["environments"][2]["threshold"] = 1.into();
    });
    // The attacker holds only the CI key.
    let sig = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-ledger"))
        .args(["policy", "sign", "--key", &repo.key_str("ci")])
        .current_dir(&repo.root)
        .env("GITOPS_LEDGER_NOW", &repo.now)
        .output()
        .unwrap();
    assert!(sig.status.success(), "{}", String::from_utf8_lossy(&sig.stderr));
    commit(&repo, "new root");
    pr_check(
        &repo,
        1,
        &[
            "promotions/policy/00000002.json (policy@2): a policy version added by this change needs 2 more signature(s) from the base's root signers (alice, bob, carol) of version 1",
            "rotation to version 2 needs 2 more signature(s) from the root signers of version 1",
        ],
    );
}

#[test]
fn the_work_tree_can_be_checked_against_a_base_too() {
    let repo = TestRepo::landed_at_base();
    repo.promote("dev", 'b', "ci", "2026-11-28T09:00:00Z");
    repo.ok(&["verify", "--base", "base"]);
    repo.write("promotions/apps/api/00000002.json", "{}");
    let out = repo.fails(1, &["verify", "--base", "base"]);
    assert!(out.contains("promotions/apps/api/00000002.json: was modified after it landed"), "{out}");
}

#[test]
fn the_work_tree_check_finds_an_edit_of_a_landed_record_that_was_staged() {
    let repo = TestRepo::landed_at_base();
    repo.write("promotions/apps/api/00000002.json", "{}");
    repo.git(&["add", "promotions/apps/api/00000002.json"]);
    let out = repo.fails(1, &["verify", "--base", "base"]);
    assert!(out.contains("promotions/apps/api/00000002.json: was modified after it landed"), "{out}");
}

/// The attacker holds the CI key and pushes a branch; CI pins policy 1.
fn attacker_replaces_policy_one(repo: &TestRepo) {
    repo.edit_json("promotions/policy/00000001.json", |policy| {
        policy["root"] = serde_json::json!({"signers": ["ci"], "threshold": 1});
        policy["environments"][2]["signers"] = serde_json::json!(["ci"]);
        policy["environments"][2]["threshold"] = 1.into();
        policy["signatures"] = serde_json::json!([]);
    });
    repo.ok(&["policy", "sign", "--key", &repo.key_str("ci")]);
}

#[test]
fn replacing_policy_one_fails_even_when_every_signature_checks() {
    let repo = TestRepo::landed_at_base();
    let trust = repo.trust_anchor();
    attacker_replaces_policy_one(&repo);
    commit(&repo, "new root");
    let out = repo.fails(1, &["verify", "--rev", "HEAD", "--base", "base", "--trust", &trust]);
    assert!(out.contains("promotions/policy/00000001.json: was modified after it landed"), "{out}");
    assert!(out.contains("the trust anchor was replaced (rule: trust)"), "{out}");
    // Without a base, the pin alone catches it.
    let out = repo.fails(1, &["verify", "--trust", &trust]);
    assert!(out.contains("(rule: trust)"), "{out}");
}

#[test]
fn re_signing_the_whole_history_under_a_new_root_fails() {
    let repo = TestRepo::landed_at_base();
    let trust = repo.trust_anchor();
    attacker_replaces_policy_one(&repo);
    // Rewrite the chain: every record re-made and signed by the attacker's key.
    for seq in 1..=3 {
        std::fs::remove_file(repo.root.join(format!("promotions/apps/api/{seq:08}.json"))).unwrap();
    }
    repo.forge(Forged::new(1, "dev", 'e', "2026-11-25T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(2, "staging", 'e', "2026-11-25T09:00:00Z", &["ci"]));
    repo.forge(Forged::new(3, "production", 'e', "2026-11-26T10:00:00Z", &["ci"]));
    repo.project();
    commit(&repo, "history, rewritten");
    let out = repo.fails(1, &["verify", "--rev", "HEAD", "--base", "base", "--trust", &trust]);
    assert!(out.contains("promotions/apps/api/00000001.json (api@1): was modified after it landed"), "{out}");
    assert!(out.contains("(rule: trust)"), "{out}");
    let full = repo.fails(1, &["verify", "--trust", &trust]);
    assert!(full.contains("the trust anchor was replaced"), "{full}");
}

#[test]
fn a_pull_request_adding_production_records_signed_by_the_ci_bot_fails() {
    let repo = TestRepo::landed_at_base();
    repo.forge(Forged::new(4, "production", 'a', "2026-11-27T10:00:00Z", &["ci", "alice"]));
    repo.project();
    commit(&repo, "bot deploys production");
    pr_check(
        &repo,
        1,
        &["(api@4): ci may not sign for production (policy version 1 allows alice, bob, carol) (rule: signature)"],
    );
}
