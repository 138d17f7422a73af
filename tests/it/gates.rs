//! Evidence gates, fan-in, recurring freezes and break-glass (DESIGN.md,
//! "Evidence, fan-in, recurring freezes, break-glass").

use serde_json::json;

use crate::common::{digest, Forged, TestRepo};

/// staging is signed off by CI's test runner (the `ci` key) as evidence;
/// production requires a smoke test and an image scan there, soaking 24h.
fn gated() -> TestRepo {
    let repo = TestRepo::new();
    repo.init_policy(|policy| {
        policy["environments"][1]["evidence_signers"] = json!(["ci"]);
        policy["environments"][2]["requires"] = json!(["smoke-test", "image-scan"]);
    });
    repo.promote("dev", 'a', "ci", "2026-11-25T08:00:00Z");
    repo.promote("staging", 'a', "alice", "2026-11-25T09:00:00Z");
    repo
}

fn evidence(repo: &TestRepo, kind: &str, result: &str, at: &str) -> String {
    repo.ok(&[
        "evidence",
        "--app",
        "api",
        "--env",
        "staging",
        "--type",
        kind,
        "--result",
        result,
        "--url",
        "https://ci.example/runs/812",
        "--key",
        &repo.key_str("ci"),
        "--at",
        at,
        "--commit",
    ])
}

fn promote_production(repo: &TestRepo) -> std::process::Output {
    repo.run(&["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice")])
}

#[test]
fn passing_smoke_test_and_scan_in_staging_let_the_digest_into_production() {
    let repo = gated();
    let out = evidence(&repo, "smoke-test", "pass", "2026-11-25T09:20:00Z");
    assert!(out.contains("(api@3): smoke-test pass for what staging runs"), "{out}");
    evidence(&repo, "image-scan", "pass", "2026-11-25T09:30:00Z");
    let record = repo.read_json("promotions/apps/api/00000003.json");
    assert_eq!(record["kind"], "evidence");
    assert_eq!(record["from"], serde_json::Value::Null);
    assert_eq!(
        record["evidence"],
        json!({"type": "smoke-test", "result": "pass", "url": "https://ci.example/runs/812"})
    );
    assert_eq!(record["images"][0]["digest"], digest('a'));
    let promoted = promote_production(&repo);
    assert!(promoted.status.success(), "{}", String::from_utf8_lossy(&promoted.stderr));
    repo.ok(&["approve", "api@5", "--key", &repo.key_str("bob")]);
    repo.ok(&["verify"]);
}

#[test]
fn a_missing_scan_is_refused_and_named() {
    let repo = gated();
    evidence(&repo, "smoke-test", "pass", "2026-11-25T09:20:00Z");
    let out = promote_production(&repo);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("production requires image-scan evidence for sha256:aaaaaaaaaaaa in staging, and there is none since it entered staging; record it with `gitops-ledger evidence` (rule: evidence)"),
        "{text}"
    );
    assert_eq!(repo.status(), "");
}

#[test]
fn a_fail_after_the_pass_blocks_the_promotion() {
    let repo = gated();
    evidence(&repo, "smoke-test", "pass", "2026-11-25T09:20:00Z");
    evidence(&repo, "image-scan", "pass", "2026-11-25T09:30:00Z");
    evidence(&repo, "smoke-test", "fail", "2026-11-25T09:40:00Z");
    let out = promote_production(&repo);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("smoke-test evidence for sha256:aaaaaaaaaaaa in staging failed at 2026-11-25T09:40:00Z"),
        "{text}"
    );
}

#[test]
fn evidence_by_a_signer_outside_evidence_signers_fails() {
    let repo = gated();
    let out = repo.fails(
        1,
        &[
            "evidence",
            "--app",
            "api",
            "--env",
            "staging",
            "--type",
            "smoke-test",
            "--result",
            "pass",
            "--key",
            &repo.key_str("alice"),
        ],
    );
    assert!(out.contains("alice may not sign evidence for staging (policy version 1 allows ci)"), "{out}");
    // Written anyway, by hand or by another tool, verify finds it too.
    repo.forge(Forged {
        evidence: Some(("smoke-test", true)),
        ..Forged::new(3, "staging", 'a', "2026-11-25T09:20:00Z", &["alice"])
    });
    repo.project();
    let out = repo.fails(1, &["verify"]);
    assert!(
        out.contains("(api@3): alice may not sign evidence for staging (policy version 1 allows ci) (rule: signature)"),
        "{out}"
    );
    assert!(!out.contains("pending"), "evidence cannot be approved, so it is never pending: {out}");
}

#[test]
fn evidence_for_a_digest_the_environment_does_not_run_fails() {
    let repo = gated();
    repo.forge(Forged {
        evidence: Some(("smoke-test", true)),
        ..Forged::new(3, "staging", 'b', "2026-11-25T09:20:00Z", &["ci"])
    });
    repo.project();
    let out = repo.fails(1, &["verify"]);
    assert!(
        out.contains("(api@3): evidence for sha256:bbbbbbbbbbbb (ghcr.io/o/api), which staging does not run (it runs sha256:aaaaaaaaaaaa); evidence attests to what runs (rule: evidence)"),
        "{out}"
    );
}

#[test]
fn soak_counts_from_the_newest_required_pass() {
    let repo = gated();
    evidence(&repo, "smoke-test", "pass", "2026-11-25T09:20:00Z");
    evidence(&repo, "image-scan", "pass", "2026-11-27T12:00:00Z");
    // Staging since 2026-11-25T09:00 (25h ago), but the scan passed only 22h ago.
    let out = promote_production(&repo);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("digest sha256:aaaaaaaaaaaa passed its required evidence in staging at 2026-11-27T12:00:00Z, less than the 24h soak before 2026-11-28T10:00:00Z; promote at 2026-11-28T12:00:00Z or later (rule: soak)"),
        "{text}"
    );
    let mut later = repo.cmd();
    let ok = later
        .env("GITOPS_LEDGER_NOW", "2026-11-28T12:00:00Z")
        .args(["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice")])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

/// production fans in from staging-eu and staging-us.
fn fan_in(mode: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.init_policy(|policy| {
        policy["break_glass"] = json!({"signers": ["alice", "bob"], "threshold": 2});
        let staging = policy["environments"][1].clone();
        let mut eu = staging.clone();
        eu["name"] = "staging-eu".into();
        let mut us = staging;
        us["name"] = "staging-us".into();
        let mut production = policy["environments"][2].clone();
        production["from"] = json!(["staging-eu", "staging-us"]);
        production["from_mode"] = mode.into();
        policy["environments"] = json!([policy["environments"][0].clone(), eu, us, production]);
    });
    repo.promote("dev", 'a', "ci", "2026-11-25T08:00:00Z");
    repo.promote("staging-eu", 'a', "alice", "2026-11-25T09:00:00Z");
    repo
}

#[test]
fn fan_in_all_needs_every_upstream_and_any_needs_one() {
    let all = fan_in("all");
    let out = promote_production(&all);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("production digest sha256:aaaaaaaaaaaa (ghcr.io/o/api) was never promoted to staging-us"),
        "{text}"
    );
    all.promote("staging-us", 'a', "bob", "2026-11-25T10:00:00Z");
    let out = promote_production(&all);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let record = all.read_json("promotions/apps/api/00000004.json");
    assert_eq!(record["from"], json!(["staging-eu", "staging-us"]));

    let any = fan_in("any");
    let out = promote_production(&any);
    assert!(out.status.success(), "any: one upstream is enough: {}", String::from_utf8_lossy(&out.stderr));
    any.ok(&["approve", "api@3", "--key", &any.key_str("bob")]);
    any.ok(&["verify"]);
}

/// A freeze from Friday 16:00 to Monday 08:00 (64h) in Berlin, across the
/// end of summer time (Sunday 2026-10-25): 16:00 local is 14:00Z before it
/// and 15:00Z after it.
fn friday_freeze() -> TestRepo {
    let repo = TestRepo::new();
    repo.init_policy(|policy| {
        policy["at"] = "2026-10-01T00:00:00Z".into();
        policy["environments"][0]["freeze"] =
            json!([{"cron": "0 16 * * FRI", "duration": "64h", "timezone": "Europe/Berlin", "allow_rollback": true}]);
    });
    repo
}

#[test]
fn a_recurring_berlin_freeze_opens_at_16_local_on_both_sides_of_daylight_saving() {
    let cases = [
        ("2026-10-23T13:59:00Z", true),  // Fri 15:59 CEST: before the window
        ("2026-10-23T14:00:00Z", false), // Fri 16:00 CEST: frozen
        // The window lasts 64 hours of real time; the night gained an hour, so
        // it closes at 07:00 CET (06:00Z) rather than 08:00.
        ("2026-10-26T05:59:00Z", false), // Mon 06:59 CET: still frozen
        ("2026-10-26T06:00:00Z", true),  // Mon 07:00 CET: open again
        ("2026-10-30T14:30:00Z", true),  // Fri 15:30 CET (14:30Z would be frozen under summer time)
        ("2026-10-30T15:00:00Z", false), // Fri 16:00 CET: frozen
    ];
    for (at, open) in cases {
        let repo = friday_freeze();
        repo.forge(Forged::new(1, "dev", 'a', at, &["ci"]));
        repo.project();
        let out = repo.run(&["verify"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.success(), open, "{at}: {text}");
        if !open {
            assert!(text.contains("dev is frozen from") && text.contains("(rule: freeze)"), "{text}");
        }
    }
    let frozen = repo_frozen_with_rollback();
    frozen.ok(&["verify"]);
}

/// Inside the window, a rollback the window allows lands; a promotion does not.
fn repo_frozen_with_rollback() -> TestRepo {
    let repo = friday_freeze();
    repo.forge(Forged::new(1, "dev", 'a', "2026-10-22T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(2, "dev", 'b', "2026-10-22T09:00:00Z", &["ci"]));
    repo.forge(Forged { rollback: true, ..Forged::new(3, "dev", 'a', "2026-10-24T12:00:00Z", &["ci"]) });
    repo.project();
    repo
}

#[test]
fn a_break_glass_hotfix_with_two_break_glass_signatures_passes_and_is_reported() {
    let repo = TestRepo::with_break_glass();
    let out = repo.hotfix("CVE-2026-1234 exploited in the wild", &[]);
    assert!(out.contains("BREAK-GLASS: waives provenance (CVE-2026-1234 exploited in the wild)"), "{out}");
    assert!(out.contains("production needs 1 more approval (threshold 2)"), "{out}");
    assert!(out.contains("break-glass needs 1 more approval (threshold 2)"), "{out}");
    repo.ok(&["approve", "api@2", "--key", &repo.key_str("bob")]);
    let text = repo.ok(&["verify"]);
    assert!(
        text.contains("warning: break-glass override: promotions/apps/api/00000002.json (api@2) for production waiving provenance, signed by alice, bob: CVE-2026-1234 exploited in the wild"),
        "{text}"
    );
    assert!(text.contains("every rule holds (1 break-glass override reported above)"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&repo.ok(&["verify", "--format", "json"])).unwrap();
    assert_eq!(json["result"], "pass");
    assert_eq!(json["overrides"][0]["record"], "api@2");
    assert_eq!(json["overrides"][0]["rules"], json!(["provenance"]));
    let github = repo.ok(&["verify", "--format", "github"]);
    assert!(
        github.contains("::warning file=promotions/apps/api/00000002.json,title=break-glass override (api@2)::"),
        "{github}"
    );
}

#[test]
fn a_break_glass_hotfix_with_one_break_glass_signature_stays_pending_naming_who_is_missing() {
    let repo = TestRepo::with_break_glass();
    repo.hotfix("CVE-2026-1234 exploited in the wild", &[]);
    repo.ok(&["approve", "api@2", "--key", &repo.key_str("carol")]);
    let out = repo.ok(&["verify"]);
    assert!(out.contains("(api@2): pending: break-glass needs 2 distinct signers of alice, bob, 1 more"), "{out}");
    assert!(!out.contains("pending: production"), "production's own threshold is met: {out}");
    // Found in review: the warning said the pending hotfix "entered production".
    assert!(
        out.contains("break-glass override: promotions/apps/api/00000002.json (api@2) for production waiving"),
        "{out}"
    );
    assert!(!out.contains("entered production"), "{out}");
    // A waived rule is waived only where declared: soak was not.
    let repo = TestRepo::with_break_glass();
    repo.ok(&["promote", "--app", "api", "--env", "staging", "--key", &repo.key_str("alice")]);
    let refused = repo.fails(
        1,
        &[
            "promote",
            "--app",
            "api",
            "--env",
            "production",
            "--override-reason",
            "hurry",
            "--override-rule",
            "freeze",
            "--key",
            &repo.key_str("alice"),
        ],
    );
    assert!(refused.contains("(rule: soak)"), "{refused}");
}

#[test]
fn status_shows_what_runs_with_its_evidence_and_the_state_at_an_earlier_moment() {
    let repo = gated();
    evidence(&repo, "smoke-test", "pass", "2026-11-25T09:20:00Z");
    evidence(&repo, "image-scan", "fail", "2026-11-25T09:30:00Z");
    repo.promote("dev", 'b', "ci", "2026-11-26T08:00:00Z");
    let now = repo.ok(&["status"]);
    let lines: Vec<&str> = now.lines().collect();
    assert_eq!(lines[0], "as of 2026-11-28T10:00:00Z");
    assert!(lines[2].starts_with("api  dev      ghcr.io/o/api  -    sha256:bbbbbbbbbbbb  api@5"), "{now}");
    assert!(lines[3].starts_with("api  staging  ghcr.io/o/api  -    sha256:aaaaaaaaaaaa  api@2"), "{now}");
    assert!(lines[3].ends_with("image-scan:fail,smoke-test:pass"), "{now}");
    let before = repo.ok(&["status", "--at", "2026-11-25T12:00:00Z"]);
    assert!(before.contains("api  dev      ghcr.io/o/api  -    sha256:aaaaaaaaaaaa  api@1"), "{before}");
    let json: serde_json::Value = serde_json::from_str(&repo.ok(&["status", "--format", "json"])).unwrap();
    let staging = &json["apps"]["api"]["staging"]["images"]["ghcr.io/o/api"];
    assert_eq!(staging["evidence"]["smoke-test"]["result"], "pass");
    assert_eq!(staging["evidence"]["image-scan"]["at"], "2026-11-25T09:30:00Z");
}

/// Regression: with `from_mode: any`, an override was applied after the
/// upstreams were combined, so a waived soak in one upstream still failed on
/// the other upstream's missing provenance.
#[test]
fn override_is_applied_per_upstream_before_fan_in_any_decides() {
    let repo = fan_in("any");
    // staging-eu got the digest at 09:00 the day before; production soaks 24h; staging-us never got it.
    let mut now = repo.cmd();
    let out = now
        .env("GITOPS_LEDGER_NOW", "2026-11-25T12:00:00Z")
        .args([
            "promote",
            "--app",
            "api",
            "--env",
            "production",
            "--override-reason",
            "incident",
            "--override-rule",
            "soak",
            "--key",
            &repo.key_str("alice"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
