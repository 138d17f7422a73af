//! Approvals as records: a production promotion waiting for its second
//! approver blocks nothing, takes effect at the approval that completes it,
//! and no landed file ever changes.

use serde_json::json;

use crate::common::{digest, independent_id, independent_message, tool_available, Forged, TestRepo};
use crate::projection::with_overlays;

fn image(fill: char) -> String {
    format!("ghcr.io/o/api@{}", digest(fill))
}

/// The paths a commit changed, as `git show --name-status` lists them.
fn changed_in(repo: &TestRepo, rev: &str) -> String {
    repo.git(&["show", "--name-status", "--format=", rev])
}

/// What production runs of `api` at `at`, per `status --at` (json).
fn production_at(repo: &TestRepo, at: &str) -> serde_json::Value {
    let status: serde_json::Value =
        serde_json::from_str(&repo.ok(&["status", "--at", at, "--format", "json"])).unwrap();
    status["apps"]["api"]["production"].clone()
}

fn verify_holds(repo: &TestRepo) -> String {
    let out = repo.ok(&["verify"]);
    assert!(out.contains("every rule holds"), "{out}");
    out
}

/// dev and staging run digest 'a' (committed), production nothing yet.
fn staged(repo: &TestRepo) {
    let promote = |env: &str, key: &str, extra: &[&str], at: &str| {
        let mut args = vec!["promote", "--app", "api", "--env", env, "--key", key, "--at", at, "--commit"];
        args.extend_from_slice(extra);
        repo.ok(&args);
    };
    promote("dev", &repo.key_str("ci"), &["--image", &format!("{}=v1", image('a'))], "2026-11-26T08:00:00Z");
    promote("staging", &repo.key_str("alice"), &[], "2026-11-26T09:00:00Z");
}

#[test]
fn a_waiting_production_promotion_blocks_nothing_and_takes_effect_at_its_approval() {
    let repo = with_overlays("resources:\n- ../../base\n");
    staged(&repo);
    let overlay = "apps/api/overlays/production/kustomization.yaml";

    // alice alone: production waits for a second approver.
    let production = repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "production",
        "--key",
        &repo.key_str("alice"),
        "--at",
        "2026-11-27T10:00:00Z",
        "--commit",
    ]);
    assert!(
        production.contains("production needs 1 more approval (threshold 2): gitops-ledger approve api@3"),
        "{production}"
    );
    assert_eq!(changed_in(&repo, "HEAD"), "A\tpromotions/apps/api/00000003.json\n", "nothing deploys yet");
    let out = verify_holds(&repo);
    assert!(
        out.contains("(api@3): pending: production needs 2 distinct signers of alice, bob, carol, 1 more"),
        "{out}"
    );

    // CI keeps promoting to dev meanwhile.
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &format!("{}=v2", image('b')),
        "--key",
        &repo.key_str("ci"),
        "--at",
        "2026-11-27T11:00:00Z",
        "--commit",
    ]);
    verify_holds(&repo);

    // bob's approval is a record of its own, and production moves in its commit.
    let approved =
        repo.ok(&["approve", "api@3", "--key", &repo.key_str("bob"), "--at", "2026-11-27T12:00:00Z", "--commit"]);
    assert!(
        approved.contains("wrote promotions/apps/api/00000005.json (api@5): approval of api@3 for production"),
        "{approved}"
    );
    assert!(approved.contains("api@3 takes effect at 2026-11-27T12:00:00Z"), "{approved}");
    assert_eq!(
        changed_in(&repo, "HEAD"),
        format!("M\t{overlay}\nA\tpromotions/apps/api/00000005.json\nM\tversions.json\n")
    );
    assert!(repo.read(overlay).contains(&digest('a')), "the overlay moved at the approval");
    let out = verify_holds(&repo);
    assert!(!out.contains("pending"), "{out}");

    // Three records; no landed file ever changed after it landed.
    for seq in 1..=5 {
        let path = format!("promotions/apps/api/{seq:08}.json");
        assert_eq!(repo.git(&["log", "--format=%h", "--", &path]).lines().count(), 1, "{path} changed after it landed");
    }
    let approval = repo.read_json("promotions/apps/api/00000005.json");
    assert_eq!(approval["kind"], "approval");
    assert_eq!(approval["approves"], json!(independent_id(&repo.read_json("promotions/apps/api/00000003.json"))));
    assert_eq!(approval["from"], serde_json::Value::Null);

    // versions.json and status use the effective time.
    let versions = repo.read_json("versions.json");
    assert_eq!(versions["apps"]["api"]["production"]["seq"], 3);
    assert_eq!(versions["apps"]["api"]["production"]["at"], "2026-11-27T12:00:00Z");
    assert_eq!(production_at(&repo, "2026-11-27T11:30:00Z"), serde_json::Value::Null, "waiting: nothing runs");
    let after = production_at(&repo, "2026-11-27T12:00:00Z");
    assert_eq!(after["seq"], 3);
    assert_eq!(after["set_at"], "2026-11-27T12:00:00Z");
    assert_eq!(after["images"]["ghcr.io/o/api"]["digest"], digest('a'));
    let status = repo.ok(&["status", "--at", "2026-11-27T11:30:00Z"]);
    assert!(
        status.contains("pending: api@3 production, signed by alice; production needs 2 distinct signers of alice, bob, carol, 1 more: gitops-ledger approve api@3 --key FILE"),
        "{status}"
    );

    // The pull-request check of the approval alone passes.
    let out = repo.ok(&["verify", "--base", "HEAD~1"]);
    assert!(out.contains("every rule holds"), "{out}");
}

#[test]
fn a_pull_request_that_adds_a_signature_to_a_landed_record_fails() {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-26T08:00:00Z");
    repo.promote("staging", 'a', "alice", "2026-11-26T09:00:00Z");
    repo.ok(&["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice"), "--commit"]);
    repo.git(&["tag", "base"]);
    // The old way: bob's signature added to the landed record.
    let path = "promotions/apps/api/00000003.json";
    let message = independent_message(&repo.read_json(path));
    let key = gitops_ledger::sign::SigningKey::load(&repo.key("bob"), None).unwrap();
    let sig = key.sign(&message).unwrap();
    repo.edit_json(path, |r| r["signatures"].as_array_mut().unwrap().push(json!({"signer": "bob", "sig": sig})));
    repo.project();
    repo.git(&["commit", "-qam", "approve by editing"]);
    // As a whole the old-style ledger verifies; as a change it is refused.
    verify_holds(&repo);
    let out = repo.fails(1, &["verify", "--base", "base"]);
    assert!(out.contains("(api@3): was modified after it landed"), "{out}");
    assert!(out.contains("(rule: append-only)"), "{out}");
}

/// A signed approval written by hand, `edit` applied before signing.
fn forge_approval(
    repo: &TestRepo,
    seq: u64,
    approves: u64,
    at: &str,
    signers: &[&str],
    edit: impl FnOnce(&mut serde_json::Value),
) {
    repo.forge(Forged::approval(seq, approves, "production", 'a', at, signers));
    let path = format!("promotions/apps/api/{seq:08}.json");
    let mut record = repo.read_json(&path);
    edit(&mut record);
    record["signatures"] = json!([]);
    let message = independent_message(&record);
    let signatures: Vec<serde_json::Value> = signers
        .iter()
        .map(|signer| {
            let key = gitops_ledger::sign::SigningKey::load(&repo.key(signer), None).unwrap();
            json!({"signer": signer, "sig": key.sign(&message).unwrap()})
        })
        .collect();
    record["signatures"] = json!(signatures);
    repo.write(&path, &(serde_json::to_string_pretty(&record).unwrap() + "\n"));
}

/// dev, staging and a production promotion by alice alone (api@3), forged.
/// Production api@3 waits for one more approval (alice signed), committed.
pub(crate) fn waiting() -> TestRepo {
    let repo = TestRepo::with_signed_policy();
    repo.forge(Forged::new(1, "dev", 'a', "2026-11-25T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(2, "staging", 'a', "2026-11-25T09:00:00Z", &["alice"]));
    repo.forge(Forged::new(3, "production", 'a', "2026-11-26T10:00:00Z", &["alice"]));
    repo.project();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "production waits"]);
    repo
}

fn refused(repo: &TestRepo, args: &[&str], needle: &str) {
    let out = repo.fails(1, args);
    assert!(out.contains(needle), "expected {needle:?} in:\n{out}");
    assert_eq!(repo.status(), "", "a refused approval writes nothing");
}

fn violation(repo: &TestRepo, needle: &str) {
    repo.project();
    let out = repo.fails(1, &["verify"]);
    assert!(out.contains(needle), "expected {needle:?} in:\n{out}");
}

#[test]
fn an_approval_by_a_signer_not_allowed_for_the_environment_is_refused_and_a_violation() {
    let repo = waiting();
    refused(&repo, &["approve", "api@3", "--key", &repo.key_str("ci")], "ci may not sign for production");
    forge_approval(&repo, 4, 3, "2026-11-26T11:00:00Z", &["ci"], |_| {});
    violation(
        &repo,
        "(api@4): ci may not sign for production (policy version 1 allows alice, bob, carol) (rule: signature)",
    );
}

#[test]
fn an_approval_of_a_superseded_record_is_refused_and_a_violation() {
    let repo = waiting();
    // bob and carol promote the same digest together: it takes effect first.
    repo.forge(Forged::new(4, "production", 'a', "2026-11-26T11:00:00Z", &["bob", "carol"]));
    repo.project();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "co-signed production"]);
    let out = verify_holds(&repo);
    assert!(!out.contains("pending"), "a superseded record waits for nothing: {out}");
    refused(
        &repo,
        &["approve", "api@3", "--key", &repo.key_str("bob")],
        "approves api@3, which can never take effect: api@4 took effect in production first, at 2026-11-26T11:00:00Z",
    );
    forge_approval(&repo, 5, 3, "2026-11-26T12:00:00Z", &["bob"], |_| {});
    violation(&repo, "(api@5): approves api@3, which can never take effect");
}

#[test]
fn an_approval_of_a_complete_record_is_refused_and_a_violation() {
    let repo = waiting();
    repo.ok(&["approve", "api@3", "--key", &repo.key_str("bob"), "--at", "2026-11-26T11:00:00Z", "--commit"]);
    refused(
        &repo,
        &["approve", "api@3", "--key", &repo.key_str("carol")],
        "approves api@3, which is complete: it took effect at 2026-11-26T11:00:00Z (rule: approval)",
    );
    forge_approval(&repo, 5, 3, "2026-11-26T12:00:00Z", &["carol"], |_| {});
    violation(&repo, "(api@5): approves api@3, which is complete");
}

#[test]
fn an_approval_that_would_complete_a_record_inside_a_freeze_window_is_refused_and_a_violation() {
    let repo = TestRepo::new();
    repo.init_policy(|policy| {
        policy["environments"][2]["freeze"] = json!([{"start": "2026-11-27T00:00:00Z", "end": "2026-11-29T00:00:00Z"}]);
    });
    repo.forge(Forged::new(1, "dev", 'a', "2026-11-25T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(2, "staging", 'a', "2026-11-25T09:00:00Z", &["alice"]));
    repo.forge(Forged::new(3, "production", 'a', "2026-11-26T10:00:00Z", &["alice"]));
    repo.project();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "production waits into a freeze"]);
    refused(
        &repo,
        &["approve", "api@3", "--key", &repo.key_str("bob")],
        "would complete api@3 at 2026-11-28T10:00:00Z, but production is frozen from 2026-11-27T00:00:00Z until 2026-11-29T00:00:00Z",
    );
    forge_approval(&repo, 4, 3, "2026-11-28T09:00:00Z", &["bob"], |_| {});
    violation(&repo, "(api@4): would complete api@3 at 2026-11-28T09:00:00Z, but production is frozen");
    let versions = repo.read_json("versions.json");
    assert_eq!(versions["apps"]["api"].get("production"), None, "the frozen record never takes effect");
}

#[test]
fn an_approval_of_a_record_of_another_app_is_a_violation() {
    let repo = waiting();
    repo.ok(&[
        "promote",
        "--app",
        "web",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/web@{}", digest('c')),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    let web_id = independent_id(&repo.read_json("promotions/apps/web/00000001.json"));
    forge_approval(&repo, 4, 3, "2026-11-26T11:00:00Z", &["bob"], |record| record["approves"] = json!(web_id));
    violation(&repo, "(api@4): approves sha256:");
    let out = repo.fails(1, &["verify"]);
    assert!(out.contains("which is no promote or rollback of api before it"), "{out}");
}

#[test]
fn break_glass_signers_and_environment_signers_may_approve_on_separate_records() {
    let repo = TestRepo::new();
    repo.init_policy(|policy| policy["break_glass"] = json!({"signers": ["carol"], "threshold": 1}));
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    let hotfix = repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "production",
        "--image",
        &image('f'),
        "--override-reason",
        "CVE-2026-1234",
        "--override-rule",
        "provenance",
        "--key",
        &repo.key_str("alice"),
        "--at",
        "2026-11-28T09:00:00Z",
        "--commit",
    ]);
    assert!(hotfix.contains("break-glass needs 1 more approval (threshold 1)"), "{hotfix}");
    let bob = repo.ok(&["approve", "api@2", "--key", &repo.key_str("bob"), "--at", "2026-11-28T09:10:00Z", "--commit"]);
    assert!(bob.contains("break-glass needs 1 more approval (threshold 1): gitops-ledger approve api@2"), "{bob}");
    assert!(!bob.contains("takes effect"), "{bob}");
    assert!(repo.read_json("versions.json")["apps"].get("api").and_then(|a| a.get("production")).is_none());
    let carol =
        repo.ok(&["approve", "api@2", "--key", &repo.key_str("carol"), "--at", "2026-11-28T09:20:00Z", "--commit"]);
    assert!(carol.contains("api@2 takes effect at 2026-11-28T09:20:00Z"), "{carol}");
    assert_eq!(repo.read_json("versions.json")["apps"]["api"]["production"]["images"]["ghcr.io/o/api"], digest('f'));
    let out = verify_holds(&repo);
    assert!(out.contains("for production waiving provenance, signed by alice, bob, carol: CVE-2026-1234"), "{out}");
}

#[test]
fn ssh_keygen_verifies_an_approval_record_signature() {
    if !tool_available("ssh-keygen", "ssh-keygen -Y verify checks an approval record's signature") {
        return;
    }
    let repo = waiting();
    repo.ok(&["approve", "api@3", "--key", &repo.key_str("bob"), "--at", "2026-11-26T11:00:00Z"]);
    let approval = repo.read_json("promotions/apps/api/00000004.json");
    assert_eq!(approval["kind"], "approval");
    let message = independent_message(&approval);
    let sig = approval["signatures"][0]["sig"].as_str().unwrap();
    let good = crate::interop::ssh_keygen_verify(&repo, "bob", "gitops-ledger", &message, sig);
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert!(String::from_utf8_lossy(&good.stdout).contains("Good \"gitops-ledger\" signature for bob"));
}

#[test]
fn report_shows_a_waiting_record_and_who_approved_a_complete_one() {
    let repo = waiting();
    let html_path = repo.keys.parent().unwrap().join("waiting.html");
    repo.ok(&["report", "--out", html_path.to_str().unwrap()]);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<td>api@3</td><td>production</td><td>promote</td>"), "{html}");
    assert!(html.contains("<strong>waiting for approval</strong>"), "{html}");

    repo.ok(&["approve", "api@3", "--key", &repo.key_str("bob"), "--at", "2026-11-26T11:00:00Z", "--commit"]);
    repo.ok(&["report", "--out", html_path.to_str().unwrap()]);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(!html.contains("waiting for approval"), "{html}");
    assert!(html.contains("<td>approval of api@3</td>"), "{html}");
    assert!(html.contains("<td>alice</td><td>bob</td><td> took effect at 2026-11-26T11:00:00Z</td>"), "{html}");
}

#[test]
fn log_says_what_became_of_each_promotion_and_what_an_approval_approves() {
    let repo = waiting();
    repo.forge(Forged::new(4, "production", 'a', "2026-11-26T11:00:00Z", &["alice"]));
    repo.project();
    let out = repo.ok(&["log"]);
    assert!(
        out.contains(
            "api@4            production   promote              sha256:aaaaaaaaaaaa  -  alice  [pending approval]"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "api@3            production   promote              sha256:aaaaaaaaaaaa  -  alice  [pending approval]"
        ),
        "{out}"
    );
    repo.ok(&["approve", "api@4", "--key", &repo.key_str("bob"), "--at", "2026-11-26T12:00:00Z"]);
    let out = repo.ok(&["log"]);
    assert!(
        out.contains(
            "api@5            production   approval             sha256:aaaaaaaaaaaa  -  bob  [approves api@4]"
        ),
        "{out}"
    );
    assert!(out.contains("alice  [took effect 2026-11-26T12:00:00Z]"), "{out}");
    assert!(
        out.contains("alice  [superseded: api@4 took effect in production first, at 2026-11-26T12:00:00Z]"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&repo.ok(&["log", "--format", "json"])).unwrap();
    assert_eq!(json[0]["fate"], json!({"approves": {"record": "api@4"}}));
    assert_eq!(json[1]["fate"], json!({"took_effect": {"at": "2026-11-26T12:00:00Z"}}));
    assert_eq!(json[4]["fate"], serde_json::Value::Null, "a record effective at its own time needs no note");
}
