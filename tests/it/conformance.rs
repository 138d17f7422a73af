//! Agreement with the independent implementation's vectors and RFC 8785.

use gitops_ledger::canonical::{jcs, record_id, record_message};
use gitops_ledger::policy::PolicyFile;
use gitops_ledger::record::Record;
use serde_json::Value;

use crate::common::{data_dir, TestRepo};

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data_dir().join("vectors/expected.json")).unwrap()).unwrap()
}

#[test]
fn record_ids_and_signed_message_match_the_vectors() {
    let expected = expected();
    let ids = expected["record_ids"].as_object().unwrap();
    assert_eq!(ids.len(), 10);
    for (label, id) in ids {
        let (app, seq) = label.split_once('@').unwrap();
        let path = format!("promotions/apps/{app}/{:08}.json", seq.parse::<u64>().unwrap());
        let bytes = std::fs::read(data_dir().join("vectors/ledger").join(&path)).unwrap();
        let record = Record::from_json(&path, &bytes).unwrap();
        assert_eq!(record_id(&record).unwrap().as_str(), id.as_str().unwrap(), "{label}");
        if label == "api-service@1" {
            let message = record_message(&record).unwrap();
            assert_eq!(
                std::str::from_utf8(&message).unwrap(),
                expected["jcs_signed_message_of_api-service_1"].as_str().unwrap()
            );
        }
    }
}

#[test]
fn policy_id_matches_the_vectors() {
    let path = "promotions/policy/00000001.json";
    let bytes = std::fs::read(data_dir().join("vectors/ledger").join(path)).unwrap();
    let policy = PolicyFile::from_json(path, &bytes).unwrap();
    assert_eq!(policy.id.as_str(), expected()["policy_1_id"].as_str().unwrap());
}

#[test]
fn the_vector_ledger_verifies_with_its_pinned_policy_and_not_with_another_pin() {
    let repo = TestRepo::new();
    copy_dir(&data_dir().join("vectors/ledger"), &repo.root);
    let trust = expected()["policy_1_id"].as_str().unwrap().to_string();
    let out = repo.ok(&["verify", "--trust", &trust]);
    assert_eq!(out, "ok: 10 records of 2 apps, 14 signatures, 1 policy version: every rule holds\n");
    let wrong_pin = format!("sha256:{}", "0".repeat(64));
    let replaced = repo.fails(1, &["verify", "--trust", &wrong_pin]);
    assert!(replaced.contains("the trust anchor was replaced (rule: trust)"), "{replaced}");
    let unpinned = repo.ok(&["verify"]);
    assert!(
        unpinned.starts_with("warning: policy version 1 (promotions/policy/00000001.json) was trusted on first use"),
        "{unpinned}"
    );
    assert!(unpinned.contains(&format!("--trust {trust}")), "{unpinned}");
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn jcs_matches_the_rfc_8785_reference_vectors() {
    let dir = data_dir().join("vectors/jcs");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.join("input")).unwrap() {
        let entry = entry.unwrap();
        let input: Value = serde_json::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap();
        let output = std::fs::read(dir.join("output").join(entry.file_name())).unwrap();
        assert_eq!(
            String::from_utf8(jcs(&input).unwrap()).unwrap(),
            String::from_utf8(output).unwrap(),
            "{}",
            entry.path().display()
        );
        checked += 1;
    }
    assert_eq!(checked, 6);
}

/// RFC 8785 section 3.2.3: members sort by UTF-16 code units, so U+1F600
/// (surrogates D83D DE00) sorts before U+FB33, unlike a UTF-8 or code point sort.
#[test]
fn jcs_sorts_keys_by_utf16_code_units() {
    let input: Value = serde_json::from_str(
        r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
    )
    .unwrap();
    let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(String::from_utf8(jcs(&input).unwrap()).unwrap(), expected);
}

#[test]
fn jcs_escapes_strings_as_the_rfc_requires() {
    let input = serde_json::json!({"s": "\u{8}\t\n\u{c}\r\"\\/\u{1}\u{1f}\u{7f}é€😀"});
    assert_eq!(
        String::from_utf8(jcs(&input).unwrap()).unwrap(),
        "{\"s\":\"\\b\\t\\n\\f\\r\\\"\\\\/\\u0001\\u001f\u{7f}é€😀\"}"
    );
}
