//! `promote --commit` as a user runs it (the release binary, a real git
//! repo), on ledgers of 1k and 100k records over 50 apps, and at 100k over
//! 100 apps each with a kustomize overlay per environment (the append then
//! rewrites one overlay too). Appending must not cost more as the ledger grows.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

#[path = "support/ledger_fixture.rs"]
mod fixture;
use fixture::Layout;

const APPS: usize = 50;

fn promote_commit(c: &mut Criterion) {
    let binary = fixture::release_binary();
    let mut group = c.benchmark_group("promote --commit");
    group.sample_size(20);
    for (label, records) in [("1000", 1_000usize), ("100000", 100_000), ("100000 with overlays", 100_000)] {
        let repo = if label.ends_with("overlays") {
            fixture::ledger_with_layout(
                &fixture::fixture_dir("promote-overlays-100000"),
                records,
                100,
                Layout::Overlays,
            )
        } else {
            fixture::ledger(&fixture::fixture_dir(&format!("promote-{records}")), records, APPS)
        };
        let counter = AtomicU64::new(0);
        // Each iteration appends a fresh dev digest to app-007, one minute after the last.
        group.bench_with_input(BenchmarkId::from_parameter(label), &records, |b, _| {
            b.iter(|| {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let digest = format!("sha256:{:064x}", 0xbe9c_0000_0000u64 + n + records as u64 * 1_000_000);
                let output = Command::new(&binary)
                    .current_dir(&repo)
                    .env("GIT_CONFIG_GLOBAL", "/dev/null")
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .env("GITOPS_LEDGER_NOW", "2030-01-01T00:00:00Z")
                    .args(["promote", "--app", "app-007", "--env", "dev", "--commit", "--key"])
                    .arg(fixture::keys_dir().join("ci"))
                    .arg("--image")
                    .arg(format!("ghcr.io/bench/app-007@{digest}"))
                    .output()
                    .expect("run");
                assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, promote_commit);
criterion_main!(benches);
