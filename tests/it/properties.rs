//! Property tests of the ledger's invariants (proptest).

use gitops_ledger::canonical::{jcs, record_id, record_message, sha256_id};
use gitops_ledger::clock::Timestamp;
use gitops_ledger::ledger::Ledger;
use gitops_ledger::record::Record;
use gitops_ledger::store::WorkTree;
use gitops_ledger::verify::{verify, Report, VerifyOptions};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::common::{Forged, TestRepo};

fn record_value(reason: Option<String>, tag: Option<String>, seq: u64, fill: u8) -> Value {
    let mut image = json!({"name": "ghcr.io/o/api", "digest": format!("sha256:{}", format!("{fill:02x}").repeat(32))});
    if let Some(tag) = tag {
        image["tag"] = tag.into();
    }
    let mut value = json!({
        "schema": "gitops-ledger/promotion/v1", "app": "api", "seq": seq,
        "prev": if seq == 1 { Value::Null } else { format!("sha256:{}", "1".repeat(64)).into() },
        "policy": 1, "env": "staging", "from": "dev", "kind": "promote", "images": [image],
        "at": "2026-11-24T18:00:00Z",
        "signatures": [{"signer": "alice", "sig": "U1NIU0lH"}],
    });
    if let Some(reason) = reason {
        value["reason"] = reason.into();
    }
    value
}

/// JSON text of `value` with its top-level keys in the order `order` picks.
fn shuffled_text(value: &Value, order: &[usize]) -> String {
    let object = value.as_object().unwrap();
    let mut keys: Vec<&String> = object.keys().collect();
    let n = keys.len();
    for (i, pick) in order.iter().enumerate().take(n) {
        keys.swap(i, i + pick % (n - i));
    }
    let members: Vec<String> = keys.iter().map(|k| format!("{}:{}", json!(k), object[*k])).collect();
    format!("{{{}}}", members.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The canonical form does not depend on key order or on how the file
    /// was written, and equals the RFC 8785 canonicalizer's.
    #[test]
    fn canonical_form_is_stable_under_reserialization_and_key_order(
        reason in proptest::option::of("\\PC{0,40}|[\\x00-\\x1f\"\\\\/]{0,8}"),
        tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        seq in 1u64..10_000,
        fill in any::<u8>(),
        order in proptest::collection::vec(0usize..16, 16),
    ) {
        let value = record_value(reason, tag, seq, fill);
        let record = Record::from_json("r.json", shuffled_text(&value, &order).as_bytes()).unwrap();
        prop_assert_eq!(record_id(&record).unwrap(), sha256_id(&jcs(&value).unwrap()));
        let mut unsigned = value.clone();
        unsigned.as_object_mut().unwrap().remove("signatures");
        prop_assert_eq!(record_message(&record).unwrap(), jcs(&unsigned).unwrap());
        let again = Record::from_json("r.json", &record.to_pretty_json()).unwrap();
        prop_assert_eq!(record_id(&again).unwrap(), record_id(&record).unwrap());
    }
}

/// verify of the repo's work tree, through the library.
fn verify_work_tree(repo: &TestRepo) -> Report {
    let tree = WorkTree::new(&repo.root);
    verify(&Ledger::load(&tree).unwrap(), None, &VerifyOptions::default(), now()).unwrap()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-28T10:00:00Z").unwrap()
}

/// A small landed ledger that verifies.
fn landed() -> TestRepo {
    let repo = TestRepo::with_signed_policy();
    repo.forge(Forged::new(1, "dev", 'a', "2026-11-25T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(2, "staging", 'a', "2026-11-25T09:00:00Z", &["alice"]));
    repo.forge(Forged::new(3, "production", 'a', "2026-11-26T10:00:00Z", &["alice", "bob"]));
    repo.project();
    repo
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any single-byte change that changes what a landed record (or its
    /// signature) says makes verify fail.
    #[test]
    fn any_meaningful_single_byte_change_to_a_landed_record_fails_verify(
        file in 1u64..=3,
        offset in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let repo = landed();
        let path = format!("promotions/apps/api/{file:08}.json");
        let mut bytes = std::fs::read(repo.root.join(&path)).unwrap();
        let at = offset.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        let before: Value = serde_json::from_slice(&bytes).unwrap();
        bytes[at] = byte;
        // Whitespace between tokens is not part of the record.
        prop_assume!(serde_json::from_slice::<Value>(&bytes).ok() != Some(before));
        std::fs::write(repo.root.join(&path), &bytes).unwrap();
        let report = verify_work_tree(&repo);
        prop_assert!(!report.holds(), "byte {} of {} set to {:#04x} went unnoticed", at, path, byte);
    }

    /// Any sequence of valid appends keeps verify green.
    #[test]
    fn appending_valid_records_keeps_verify_green(steps in proptest::collection::vec((0u8..4, 1i64..600), 1..6)) {
        let repo = TestRepo::with_signed_policy();
        let mut minute = 0i64;
        let fills = ['a', 'b', 'c', 'd'];
        let mut ran: Vec<char> = Vec::new();
        for (seq, (pick, gap)) in steps.into_iter().enumerate() {
            minute += gap;
            let at = Timestamp::from_unix(Timestamp::parse("2026-11-20T00:00:00Z").unwrap().unix() + minute * 60).unwrap().to_string();
            let fill = fills[usize::from(pick)];
            // A rollback when the digest already ran in dev, else a promotion.
            let forged = Forged { rollback: ran.contains(&fill) && ran.last() != Some(&fill), ..Forged::new(seq as u64 + 1, "dev", fill, &at, &["ci"]) };
            repo.forge(forged);
            ran.push(fill);
            repo.project();
            let report = verify_work_tree(&repo);
            prop_assert!(report.holds(), "{:?}", report.violations);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Projecting twice changes nothing.
    #[test]
    fn projection_is_idempotent(
        crlf in any::<bool>(),
        tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}"),
        fill in any::<u8>(),
        with_worker in any::<bool>(),
    ) {
        use gitops_ledger::project::overlay::{apply, WantedImage};
        let text = "# overlay\nimages:\n  - name: ghcr.io/o/api   # the api\n    newTag: \"0.9\"\n  - {name: other, newTag: x}\nresources: [../../base]\n";
        let text = if crlf { text.replace('\n', "\r\n") } else { text.to_string() };
        let mut wanted = std::collections::BTreeMap::new();
        wanted.insert("ghcr.io/o/api".to_string(), WantedImage { digest: format!("sha256:{}", format!("{fill:02x}").repeat(32)), tag: tag.clone() });
        if with_worker {
            wanted.insert("ghcr.io/o/worker".to_string(), WantedImage { digest: format!("sha256:{}", "e".repeat(64)), tag });
        }
        let once = apply(&text, &wanted).unwrap();
        prop_assert_eq!(apply(&once, &wanted).unwrap(), once);
    }
}
