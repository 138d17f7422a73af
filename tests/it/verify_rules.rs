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
