//! SSHSIG decoding: arbitrary blobs (and their base64) never panic and never verify.
#![no_main]

use gitops_ledger::sign::PolicyKey;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBE6ATqiQV2lGEqg02A3Kza9Ev6tIftd37Ra18HHVSV7 alice";

fuzz_target!(|data: &[u8]| {
    let key = PolicyKey::parse(KEY).expect("test key");
    let (message, blob) = data.split_at(data.len() / 2);
    let encoded = base64_standard(blob);
    assert!(key.verify(message, &encoded).is_err(), "a random blob verified");
    if let Ok(text) = std::str::from_utf8(blob) {
        let _ = key.verify(message, text);
    }
});

/// Standard base64 with padding, written out so the target needs no other crate.
fn base64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
