//! verify over a small tree whose records are fuzz input: never a panic.
#![no_main]

use gitops_ledger::clock::Timestamp;
use gitops_ledger::ledger::Ledger;
use gitops_ledger::store::WorkTree;
use gitops_ledger::verify::{verify, VerifyOptions};
use libfuzzer_sys::fuzz_target;

/// The policy of the shared conformance vectors, signed by alice and bob.
const POLICY: &str = include_str!("../../tests/data/vectors/ledger/promotions/policy/00000001.json");

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("promotions/policy")).expect("mkdir");
    std::fs::create_dir_all(root.join("promotions/apps/api")).expect("mkdir");
    std::fs::write(root.join("promotions/policy/00000001.json"), POLICY).expect("write");
    // Up to three record files, split at 0xff bytes.
    for (i, part) in data.split(|b| *b == 0xff).take(3).enumerate() {
        std::fs::write(root.join(format!("promotions/apps/api/{:08}.json", i + 1)), part).expect("write");
    }
    let now = Timestamp::parse("2026-11-28T10:00:00Z").expect("time");
    let tree = WorkTree::new(root);
    if let Ok(ledger) = Ledger::load(&tree) {
        let _ = verify(&ledger, None, &VerifyOptions::default(), now);
    }
});
