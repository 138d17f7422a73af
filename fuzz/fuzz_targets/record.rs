//! Record parsing and canonicalization: never a panic, and a parsed record
//! re-serializes to the same id.
#![no_main]

use gitops_ledger::canonical::{record_id, record_message};
use gitops_ledger::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = Record::from_json("fuzz.json", data) {
        let id = record_id(&record).expect("a parsed record canonicalizes");
        let _ = record_message(&record).expect("a parsed record has a message");
        let again = Record::from_json("fuzz.json", &record.to_pretty_json()).expect("the file form re-parses");
        assert_eq!(record_id(&again).expect("id"), id);
    }
});
