//! The main path: keygen → init → policy sign → dev → staging → production → approve.

use crate::common::{digest, independent_id, TestRepo};

#[test]
fn keygen_init_sign_promote_approve_builds_a_chain_that_recomputes_independently() {
    let repo = TestRepo::new();
    let gen = |name: &str| repo.keys.join(format!("gen-{name}")).display().to_string();
    for name in ["alice", "bob", "ci-bot"] {
        let out = repo.ok(&["keygen", &gen(name), "--comment", &format!("{name}@example.invalid")]);
        assert!(out.contains("ssh-ed25519 AAAA"), "{out}");
        assert!(!out.contains("PRIVATE KEY"), "keygen must never print key material: {out}");
    }
    repo.ok(&[
        "init",
        "--key",
        &format!("alice={}.pub", gen("alice")),
        "--key",
        &format!("bob={}.pub", gen("bob")),
        "--key",
        &format!("ci-bot={}.pub", gen("ci-bot")),
        "--ci",
        "ci-bot",
    ]);
    // This flow projects versions.json only; tests/it/projection.rs covers overlays.
    repo.edit_json("promotions/policy/00000001.json", |policy| policy["overlay"] = serde_json::Value::Null);
    let signed_once = repo.ok(&["policy", "sign", "--key", &gen("alice")]);
    assert!(signed_once.contains("needs 1 more signature"), "{signed_once}");
    let signed_twice = repo.ok(&["policy", "sign", "--key", &gen("bob")]);
    assert!(signed_twice.contains("fully signed"), "{signed_twice}");

    let image = format!("ghcr.io/myorg/api-service@{}=v1.4.2", digest('a'));
    repo.ok(&["promote", "--app", "api-service", "--env", "dev", "--image", &image, "--key", &gen("ci-bot")]);
    repo.ok(&[
        "promote",
        "--app",
        "api-service",
        "--env",
        "staging",
        "--key",
        &gen("alice"),
        "--reason",
        "soaked in dev",
    ]);
    let mut later = repo.cmd();
    let production = later
        .env("GITOPS_LEDGER_NOW", "2026-11-29T10:00:00Z")
        .args(["promote", "--app", "api-service", "--env", "production", "--key", &gen("alice")])
        .output()
        .unwrap();
    let production_out = String::from_utf8(production.stdout).unwrap();
    assert!(production.status.success(), "{production_out}");
    assert!(production_out.contains("production needs 1 more approval (threshold 2)"), "{production_out}");
    let approved = repo
        .cmd()
        .env("GITOPS_LEDGER_NOW", "2026-11-29T10:05:00Z")
        .args(["approve", "api-service@3", "--key", &gen("bob")])
        .output()
        .unwrap();
    let approved_out = String::from_utf8(approved.stdout).unwrap();
    assert!(approved.status.success(), "{approved_out}");
    assert!(!approved_out.contains("more approval"), "{approved_out}");

    // Recompute every id with the RFC 8785 canonicalizer, not the crate's code.
    let records: Vec<serde_json::Value> =
        (1..=4).map(|seq| repo.read_json(&format!("promotions/apps/api-service/{seq:08}.json"))).collect();
    assert_eq!(records[0]["prev"], serde_json::Value::Null);
    for pair in records.windows(2) {
        assert_eq!(pair[1]["prev"], serde_json::Value::String(independent_id(&pair[0])));
    }
    let last_id = independent_id(&records[3]);
    assert!(approved_out.contains(&format!("id {last_id}")), "approve prints the new id: {approved_out}");
    assert_eq!(records[1]["images"][0]["tag"], "v1.4.2", "staging took dev's image and tag");
    assert_eq!(records[2]["from"], "staging");
    let signers = |record: &serde_json::Value| -> Vec<String> {
        record["signatures"].as_array().unwrap().iter().map(|s| s["signer"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(signers(&records[2]), ["alice"], "the promotion is never edited");
    assert_eq!(records[3]["kind"], "approval");
    assert_eq!(records[3]["approves"], serde_json::Value::String(independent_id(&records[2])));
    assert_eq!(records[3]["images"], records[2]["images"]);
    assert_eq!(signers(&records[3]), ["bob"]);
    assert_eq!(records[1]["reason"], "soaked in dev");

    let verified = repo.cmd().env("GITOPS_LEDGER_NOW", "2026-11-29T10:05:00Z").arg("verify").output().unwrap();
    assert_eq!(verified.status.code(), Some(0), "{}", String::from_utf8_lossy(&verified.stdout));
}

#[test]
fn commit_makes_exactly_one_commit_holding_only_the_record() {
    let repo = TestRepo::with_signed_policy();
    let before = repo.commit_count();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    assert_eq!(repo.commit_count(), before + 1);
    assert_eq!(
        repo.git(&["diff", "--name-status", "HEAD~1", "HEAD"]),
        "A\tpromotions/apps/api/00000001.json\nA\tversions.json\n",
        "the record and its projection, nothing else"
    );
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s|%an|%ae"]).trim(),
        "chore(dev): promote api to sha256:aaaaaaaaaaaa|Test Author|author@example.invalid"
    );
    assert_eq!(repo.status(), "", "the index must match the commit");
    assert_eq!(
        repo.git(&["show", "HEAD:promotions/apps/api/00000001.json"]),
        repo.read("promotions/apps/api/00000001.json")
    );

    repo.promote("staging", 'a', "alice", "2026-11-27T09:00:00Z");
    repo.ok(&["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice"), "--commit"]);
    let before_approval = repo.commit_count();
    repo.ok(&["approve", "api@3", "--key", &repo.key_str("bob"), "--commit"]);
    assert_eq!(repo.commit_count(), before_approval + 1);
    assert_eq!(
        repo.git(&["diff", "--name-status", "HEAD~1", "HEAD"]),
        "A\tpromotions/apps/api/00000004.json\nM\tversions.json\n",
        "the approval is a record of its own; it completes the threshold, so production moves in versions.json"
    );
    assert_eq!(repo.git(&["log", "-1", "--format=%s"]).trim(), "chore(production): approve api@3 (bob)");
    assert_eq!(repo.status(), "");
    // git itself must find the objects gix wrote well-formed.
    repo.git(&["fsck", "--strict"]);
}

#[test]
fn commit_leaves_other_staged_and_unstaged_changes_alone() {
    let repo = TestRepo::with_signed_policy();
    repo.write("notes.txt", "staged\n");
    repo.git(&["add", "notes.txt"]);
    repo.write("scratch.txt", "untracked\n");
    repo.promote("dev", 'a', "ci", "2026-11-28T09:00:00Z");
    assert_eq!(
        repo.git(&["diff", "--name-only", "HEAD~1", "HEAD"]),
        "promotions/apps/api/00000001.json\nversions.json\n"
    );
    assert_eq!(repo.status(), "A  notes.txt\n?? scratch.txt\n");
}

#[test]
fn promote_without_image_takes_the_whole_upstream_state() {
    let repo = TestRepo::with_signed_policy();
    let api = format!("ghcr.io/o/api@{}=v1", digest('a'));
    let worker = format!("ghcr.io/o/worker@{}", digest('b'));
    let api2 = format!("ghcr.io/o/api@{}=v2", digest('c'));
    let ci = repo.key_str("ci");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &api,
        "--image",
        &worker,
        "--key",
        &ci,
        "--at",
        "2026-11-28T08:00:00Z",
    ]);
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &api2,
        "--key",
        &ci,
        "--at",
        "2026-11-28T08:10:00Z",
    ]);
    repo.ok(&["promote", "--app", "api", "--env", "staging", "--key", &repo.key_str("carol")]);
    let staging = repo.read_json("promotions/apps/api/00000003.json");
    assert_eq!(
        staging["images"],
        serde_json::json!([
            {"name": "ghcr.io/o/api", "digest": digest('c'), "tag": "v2"},
            {"name": "ghcr.io/o/worker", "digest": digest('b')}
        ])
    );
}

#[test]
fn a_pending_record_is_reported_not_failed_and_blocks_nothing() {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.promote("staging", 'a', "alice", "2026-11-27T09:00:00Z");
    repo.ok(&["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice"), "--commit"]);
    let pending = repo.ok(&["verify"]);
    assert!(
        pending.contains("promotions/apps/api/00000003.json (api@3): pending: production needs 2 distinct signers of alice, bob, carol, 1 more; run `gitops-ledger approve api@3`"),
        "{pending}"
    );
    assert!(pending.contains("every rule holds; 1 record pending approval (not a failure)"), "{pending}");
    assert!(!pending.contains("(rule: threshold)"), "pending is not a violation: {pending}");
    let json: serde_json::Value = serde_json::from_str(&repo.ok(&["verify", "--format", "json"])).unwrap();
    assert_eq!(json["result"], "pass");
    assert_eq!(json["pending"][0]["record"], "api@3");
    assert_eq!(json["counts"]["pending"], 1);
    let github = repo.ok(&["verify", "--format", "github"]);
    assert!(
        github.contains("::notice file=promotions/apps/api/00000003.json,title=pending approval (api@3)::"),
        "{github}"
    );

    // It blocks nothing: CI keeps promoting new builds to dev meanwhile.
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/api@{}", digest('b')),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    repo.ok(&["verify"]);
    let approved = repo.ok(&["approve", "api@3", "--key", &repo.key_str("carol"), "--commit"]);
    assert!(
        approved.contains("wrote promotions/apps/api/00000005.json (api@5): approval of api@3 for production"),
        "{approved}"
    );
    assert!(
        approved.contains("production: every threshold met; api@3 takes effect at 2026-11-28T10:00:00Z"),
        "{approved}"
    );
    let verified = repo.ok(&["verify"]);
    assert!(verified.contains("every rule holds") && !verified.contains("pending"), "{verified}");
}
