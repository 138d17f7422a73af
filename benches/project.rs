//! Projecting a 100k-record ledger onto 100 apps × 3 overlays: what
//! `project` computes (fold every chain, edit 300 overlays, versions.json).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use criterion::{criterion_group, criterion_main, Criterion};
use gitops_ledger::clock::Timestamp;
use gitops_ledger::store::WorkTree;

use gitops_ledger::ledger::Ledger;

#[path = "support/ledger_fixture.rs"]
mod fixture;

fn bench_project(c: &mut Criterion) {
    let dir = fixture::ledger_with_overlays(
        &fixture::fixture_dir("project-100000"),
        100_000,
        100,
        Some("apps/{app}/overlays/{env}/kustomization.yaml"),
    );
    let tree = WorkTree::new(&dir);
    let now = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
    let mut group = c.benchmark_group("project");
    group.sample_size(10);
    group.bench_function("100k records, 100 apps x 3 overlays", |b| {
        b.iter(|| {
            let ledger = Ledger::load(&tree).unwrap();
            let files = gitops_ledger::append::projection(&ledger, now).unwrap();
            assert_eq!(files.len(), 301);
            assert_eq!(files.iter().filter(|f| f.changes()).count(), 301, "every overlay and versions.json move");
        })
    });
    group.finish();
}

criterion_group!(benches, bench_project);
criterion_main!(benches);
