//! `verify` on generated ledgers of 1k, 10k and 100k records (50 apps, three
//! environments, production carrying two signatures): from the work tree,
//! with `--rev` (git objects), and the pull-request check `--base` adding one
//! record; beside it, the floor: batch-verifying the same signatures alone.
//!
//! With `GITOPS_LEDGER_BENCH_1M=1`, also at 1M records (500 apps × 2,000):
//! `cargo bench --bench verify -- 1000000`. Building that fixture takes a few
//! minutes and about 5 GB under target/bench-fixtures; each sample of a
//! verify there takes tens of seconds, so it is never run by default.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gitops_ledger::clock::Timestamp;
use gitops_ledger::ledger::Ledger;
use gitops_ledger::store::{GitTree, WorkTree};
use gitops_ledger::verify::{verify, verify_change, VerifyOptions};

#[path = "support/ledger_fixture.rs"]
mod fixture;

/// Apps of the ledgers up to 100k records; the 1M one has 500, as a platform
/// team with 500 services would.
const APPS: usize = 50;

/// The sizes to measure, with their number of apps.
fn sizes() -> Vec<(usize, usize)> {
    let mut sizes = vec![(1_000, APPS), (10_000, APPS), (100_000, APPS)];
    if std::env::var_os("GITOPS_LEDGER_BENCH_1M").is_some_and(|v| v == "1") {
        sizes.push((1_000_000, 500));
    }
    sizes
}

fn now() -> Timestamp {
    Timestamp::parse("2030-01-01T00:00:00Z").unwrap()
}

fn bench_verify(c: &mut Criterion) {
    let options = VerifyOptions::default();
    for (records, apps) in sizes() {
        let dir = fixture::with_pull_request(records, apps);
        let mut group = c.benchmark_group(format!("verify {records}"));
        group.sample_size(10);
        let work_tree = WorkTree::new(&dir);
        group.bench_function(BenchmarkId::new("work tree", records), |b| {
            b.iter(|| assert!(verify(&Ledger::load(&work_tree).unwrap(), None, &options, now()).unwrap().holds()))
        });
        group.bench_function(BenchmarkId::new("--rev HEAD", records), |b| {
            b.iter(|| {
                let head = GitTree::open(&dir, "HEAD").unwrap();
                assert!(verify(&Ledger::load(&head).unwrap(), None, &options, now()).unwrap().holds())
            })
        });
        group.bench_function(BenchmarkId::new("--rev HEAD --base base", records), |b| {
            b.iter(|| {
                let head = GitTree::open(&dir, "HEAD").unwrap();
                let base = GitTree::open(&dir, "base").unwrap();
                let (base, head) = (Ledger::load(&base).unwrap(), Ledger::load(&head).unwrap());
                let report = verify_change(&base, &head, &options, now()).unwrap();
                assert!(report.holds() && report.counts.records == 1, "{:?}", report.violations);
            })
        });
        // The floor: the same signatures, prepared, batch-verified on all cores.
        let prepared = fixture::prepared_signatures(&dir);
        group.bench_function(BenchmarkId::new("ed25519 batch only", prepared.len()), |b| {
            b.iter(|| fixture::verify_signatures(&prepared))
        });
        group.finish();
    }
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
