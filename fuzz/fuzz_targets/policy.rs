//! Policy parsing and validation: never a panic; a parsed policy has an id.
#![no_main]

use gitops_ledger::policy::PolicyFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = PolicyFile::from_json("promotions/policy/00000001.json", data) {
        let again = PolicyFile::from_json(&file.path, &file.policy.to_pretty_json()).expect("the file form re-parses");
        assert_eq!(again.id, file.id);
    }
});
