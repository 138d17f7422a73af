//! yaml (Helm values) projection: never a panic; an edit that is accepted
//! re-parses, reads back every value it set, and is idempotent.
//!
//! The input is a YAML text, then optionally a NUL byte and up to four lines
//! `path=value` to set; without them, a few paths commonly set in values files.
#![no_main]

use gitops_ledger::project::values::{apply, read, KeyPath};
use libfuzzer_sys::fuzz_target;

const DEFAULT: &[(&str, &str)] = &[
    ("image.tag", "1.10"),
    ("image.digest", "sha256:aaaa"),
    ("sidecars[0].image", "envoy:1.30@sha256:bb"),
    ("a", "x \"y\" \\ z"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let (text, spec) = input.split_once('\0').unwrap_or((input, ""));
    let mut set: Vec<(KeyPath, String)> = spec
        .lines()
        .take(4)
        .filter_map(|line| {
            let (path, value) = line.split_once('=')?;
            Some((KeyPath::parse(path).ok()?, value.to_string()))
        })
        .collect();
    if set.is_empty() {
        set = DEFAULT.iter().filter_map(|(p, v)| Some((KeyPath::parse(p).ok()?, v.to_string()))).collect();
    }
    for (path, _) in &set {
        let _ = read(text, path);
        // Display gives back a path that parses to the same steps.
        assert_eq!(KeyPath::parse(&path.to_string()).as_ref(), Ok(path));
    }
    let result = apply(text, &set);
    // A refusal by the safety net writes nothing, so it is safe; it marks a
    // structure the editor cannot place a key in yet (nested explicit `?`
    // keys and the like). Long runs hunt for those with STRICT set; CI's
    // short runs hold the invariants that matter: no panic, and every
    // accepted edit is right.
    if let (Err(problem), Some(_)) = (&result, std::env::var_os("GITOPS_LEDGER_FUZZ_STRICT")) {
        assert!(!problem.contains("this is a bug"), "{problem}");
    }
    if let Ok(once) = result {
        for (path, value) in &set {
            let found = read(&once, path).expect("a projected file reads back");
            assert_eq!(found.as_deref(), Some(value.as_str()), "{path}");
        }
        assert_eq!(apply(&once, &set).expect("a projected file projects again"), once);
    }
});
