//! image-field projection: never a panic; an edit that is accepted sets
//! every wanted repository's `image:` fields, re-parses, and is idempotent;
//! the safety check never has to refuse one.
//!
//! Input: YAML text, then optionally a NUL byte and a spec. The wanted
//! images are the repositories `read` finds in the text (the spec's first
//! line picks a tag or none for each) and one more per further spec line
//! (`name` or `name tag`), so odd names and missing images are fuzzed too.
#![no_main]

use std::collections::BTreeMap;

use gitops_ledger::project::image_field::{apply, read, reference};
use gitops_ledger::project::overlay::WantedImage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, spec) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let spec = String::from_utf8_lossy(spec);
    let mut lines = spec.lines();
    let picks = lines.next().unwrap_or_default().as_bytes();
    let digest = format!("sha256:{}", "a".repeat(64));
    let tags = ["1.10", "v2.0.1", "latest"];

    let mut wanted = BTreeMap::new();
    if let Ok(found) = read(text) {
        for (index, name) in found.keys().take(4).enumerate() {
            let pick = usize::from(picks.get(index).copied().unwrap_or(0));
            let tag = (pick % 4 < 3).then(|| tags[pick % 4].to_string());
            wanted.insert(name.clone(), WantedImage { digest: digest.clone(), tag });
        }
    }
    for line in lines.take(3) {
        let (name, tag) = match line.split_once(' ') {
            Some((name, tag)) => (name, Some(tag.to_string())),
            None => (line, None),
        };
        wanted.insert(name.to_string(), WantedImage { digest: digest.clone(), tag });
    }

    let once = match apply(text, &wanted) {
        Ok(once) => once,
        // The safety check firing is a bug of the editor, whatever the input.
        Err(problem) => {
            assert!(!problem.starts_with("refusing to write"), "{problem}");
            return;
        }
    };
    let found = read(&once).expect("a projected file parses");
    for (name, want) in &wanted {
        let values = found.get(name).expect("every wanted repository has an image: field");
        assert!(!values.is_empty());
        for value in values {
            assert_eq!(value, &reference(name, want), "{name} is set as wanted");
        }
    }
    assert_eq!(apply(&once, &wanted).expect("a projected file projects again"), once, "idempotent");
    if wanted.is_empty() {
        assert_eq!(once, text, "nothing wanted, nothing changed");
    }
});
