//! kustomization.yaml projection: never a panic; an edit that is accepted
//! is idempotent and sets what was asked.
#![no_main]

use std::collections::BTreeMap;

use gitops_ledger::project::overlay::{apply, read_images, WantedImage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut wanted = BTreeMap::new();
    wanted.insert(
        "ghcr.io/o/api".to_string(),
        WantedImage { digest: format!("sha256:{}", "a".repeat(64)), tag: Some("1.10".into()) },
    );
    let _ = read_images(text);
    if let Ok(once) = apply(text, &wanted) {
        assert_eq!(apply(&once, &wanted).expect("a projected file projects again"), once);
        let found = read_images(&once).expect("a projected file parses");
        assert_eq!(found["ghcr.io/o/api"].digest.as_deref(), Some(wanted["ghcr.io/o/api"].digest.as_str()));
    }
});
