//! The auditor's read side: log, replay, stats.

use std::collections::BTreeMap;
use std::path::Path;

use gitops_ledger::history::in_time_order;
use gitops_ledger::ledger::Ledger;
use gitops_ledger::store::WorkTree;
use serde_json::{json, Value};

use crate::common::{data_dir, digest, Forged, TestRepo};

/// What `log --format json` printed before it streamed: every record of
/// every chain sorted newest first, each fate from its app's full fold.
pub fn full_fold_log(root: &Path) -> Vec<Value> {
    let tree = WorkTree::new(root);
    let ledger = Ledger::load(&tree).unwrap();
    let chains = ledger.chains(None).unwrap();
    let mut records = in_time_order(&chains);
    records.reverse();
    let folds: BTreeMap<_, _> = chains.iter().map(|c| (&c.app, c.fold(ledger.policies()))).collect();
    records
        .iter()
        .map(|r| json!({"path": r.path, "id": r.id, "record": r.record, "fate": folds[&r.record.app].fate(r)}))
        .collect()
}

/// Two apps interleaved in time, with every fate `log` shows: a promotion
/// approved later, one pending for good, one superseded, approvals, a
/// rollback, evidence, and two records at the same second.
fn interleaved() -> TestRepo {
    let repo = TestRepo::with_signed_policy();
    let steps: Vec<(&str, Forged)> = vec![
        ("api", Forged::new(1, "dev", 'a', "", &["ci"])),
        ("web", Forged::new(1, "dev", 'a', "", &["ci"])),
        ("api", Forged::new(2, "staging", 'a', "", &["alice"])),
        ("web", Forged::new(2, "staging", 'a', "", &["alice"])),
        ("api", Forged { evidence: Some(("smoke-test", true)), ..Forged::new(3, "staging", 'a', "", &["ci"]) }),
        ("api", Forged::new(4, "production", 'a', "", &["alice"])),
        ("web", Forged::new(3, "production", 'a', "", &["alice"])),
        ("api", Forged::approval(5, 4, "production", 'a', "", &["bob"])),
        ("web", Forged::new(4, "production", 'a', "", &["alice", "bob"])),
        ("api", Forged::new(6, "dev", 'b', "", &["ci"])),
        ("api", Forged::new(7, "staging", 'b', "", &["alice"])),
        ("api", Forged::new(8, "production", 'b', "", &["alice"])),
        ("api", Forged { rollback: true, ..Forged::new(9, "production", 'a', "", &["alice"]) }),
        ("web", Forged::approval(5, 3, "production", 'a', "", &["bob"])),
        ("api", Forged::approval(10, 9, "production", 'a', "", &["carol"])),
        ("web", Forged::new(6, "production", 'a', "", &["alice"])),
    ];
    // Two steps a time, so the apps share seconds and the merge breaks ties
    // by app; 14 hours apart, so production's 24h soak is over when approvals come.
    let start = gitops_ledger::clock::Timestamp::parse("2026-11-20T00:00:00Z").unwrap();
    let times: Vec<String> =
        (0..steps.len() as i64).map(|i| start.plus_seconds(i / 2 * 14 * 3600).to_string()).collect();
    for ((app, forged), time) in steps.into_iter().zip(&times) {
        repo.forge(Forged { app, at: time, ..forged });
    }
    repo
}

#[test]
fn log_streams_exactly_what_the_full_fold_printed() {
    let repo = interleaved();
    let expected = full_fold_log(&repo.root);
    // Byte for byte: the streamed array is laid out as the whole one was.
    let out = repo.ok(&["log", "--format", "json"]);
    assert_eq!(out, format!("{}\n", serde_json::to_string_pretty(&expected).unwrap()));
    let text = out.to_string();
    for fate in ["\"pending\"", "\"superseded\"", "\"took_effect\"", "\"approves\""] {
        assert!(text.contains(fate), "the history shows no {fate} fate: {text}");
    }
    let labels = |entries: &[Value]| -> Vec<String> {
        entries.iter().map(|e| format!("{}@{}", e["record"]["app"].as_str().unwrap(), e["record"]["seq"])).collect()
    };
    let lines: Vec<String> =
        repo.ok(&["log"]).lines().map(|l| l.split_whitespace().nth(1).unwrap().to_string()).collect();
    assert_eq!(lines, labels(&expected));
    let filtered: Vec<Value> = expected
        .iter()
        .filter(|e| e["record"]["app"] == "web" && e["record"]["env"] == "production")
        .filter(|e| e["record"]["at"].as_str().unwrap() <= "2026-11-22T00:00:00Z")
        .cloned()
        .collect();
    let out =
        repo.ok(&["log", "--app", "web", "--env", "production", "--until", "2026-11-22T00:00:00Z", "--format", "json"]);
    assert_eq!(serde_json::from_str::<Vec<Value>>(&out).unwrap(), filtered);
    let since: Vec<Value> =
        expected.iter().filter(|e| e["record"]["at"].as_str().unwrap() >= "2026-11-21T12:00:00Z").cloned().collect();
    let out = repo.ok(&["log", "--since", "2026-11-21T12:00:00Z", "--format", "json"]);
    assert_eq!(serde_json::from_str::<Vec<Value>>(&out).unwrap(), since);
    assert_eq!(repo.ok(&["log", "--app", "nothing", "--format", "json"]), "[]\n");
    // Replay streams its JSON too, laid out as the whole object was.
    let out = repo.ok(&["replay", "--format", "json"]);
    let replayed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out, format!("{}\n", serde_json::to_string_pretty(&replayed).unwrap()));
    assert_eq!(replayed["events"].as_array().unwrap().len(), expected.len());
}

fn example() -> TestRepo {
    let repo = TestRepo::new();
    crate::conformance::copy_dir(&data_dir().join("../../examples/gitops-config"), &repo.root);
    repo
}

#[test]
fn stats_match_a_hand_computed_history() {
    // The bundled example: v1.4.1 dev 10-05T10:00 -> production 10-08T09:00,
    // v1.4.2 dev 10-14T11:00 -> production 10-19T10:00, rolled back 10-21T08:30.
    let repo = example();
    let json: serde_json::Value = serde_json::from_str(&repo.ok(&["stats", "--format", "json"])).unwrap();
    let overall = &json["overall"];
    assert_eq!(json["production"], "production");
    assert_eq!(overall["deployments"], serde_json::json!({"dev": 2, "staging": 2, "production": 3}));
    assert_eq!(overall["lead_time_median_seconds"], 2 * 86_400 + 23 * 3600);
    assert_eq!(overall["lead_time_p90_seconds"], 4 * 86_400 + 23 * 3600);
    assert_eq!(overall["production_promotions"], 2);
    assert_eq!(overall["production_rollbacks"], 1);
    assert_eq!(overall["change_failure_rate"], 0.5);
    assert_eq!(overall["time_to_restore_median_seconds"], 86_400 + 22 * 3600 + 30 * 60);
    let window: serde_json::Value =
        serde_json::from_str(&repo.ok(&["stats", "--since", "2026-10-10T00:00:00Z", "--format", "json"])).unwrap();
    assert_eq!(window["overall"]["production_promotions"], 1);
    assert_eq!(window["overall"]["change_failure_rate"], 1.0);
    let text = repo.ok(&["stats"]);
    assert!(text.contains("  lead time to production: median 2d 23h, p90 4d 23h"), "{text}");
}

#[test]
fn log_lists_newest_first_and_filters() {
    let repo = example();
    let out = repo.ok(&["log", "--env", "production"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("2026-10-21T08:30:00Z  api-service@7    production   rollback"), "{out}");
    assert!(lines[0].ends_with("sha256:c3d8fddf3131  v1.4.1  alice,bob"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&repo.ok(&["log", "--until", "2026-10-06T23:59:59Z", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["record"]["seq"], 2);
    assert!(json[0]["id"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn replay_shows_each_change_with_the_verifiers_verdict() {
    let repo = TestRepo::with_signed_policy();
    repo.forge(Forged::new(1, "dev", 'a', "2026-11-25T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(2, "staging", 'a', "2026-11-25T09:00:00Z", &["alice"]));
    repo.forge(Forged::new(3, "dev", 'b', "2026-11-25T10:00:00Z", &["ci"]));
    repo.forge(Forged::new(4, "production", 'b', "2026-11-26T10:00:00Z", &["alice", "bob"]));
    repo.forge(Forged::new(5, "production", 'a', "2026-11-27T10:00:00Z", &["alice"]));
    repo.project();
    let out = repo.ok(&["replay"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("2026-11-25T08:00:00Z  api@1"), "{out}");
    assert!(lines[0].ends_with("dev: ghcr.io/o/api none -> sha256:aaaaaaaaaaaa  [ok]"), "{out}");
    assert!(lines[3].ends_with("production: ghcr.io/o/api none -> sha256:bbbbbbbbbbbb  [fail]"), "{out}");
    assert!(lines[4].contains("was never promoted to staging"), "the verifier's words under the event: {out}");
    // A pending record deploys nothing until approved.
    assert!(out.contains("api@5            promote  production: no change  [pending]"), "{out}");
    let until: serde_json::Value =
        serde_json::from_str(&repo.ok(&["replay", "--until", "2026-11-25T23:00:00Z", "--format", "json"])).unwrap();
    assert_eq!(until["events"].as_array().unwrap().len(), 3);
    assert_eq!(until["events"][2]["changes"][0]["from"], digest('a'));
    assert_eq!(until["state"]["apps"]["api"]["dev"]["images"]["ghcr.io/o/api"]["digest"], digest('b'));
}
