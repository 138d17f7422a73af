//! Projecting a 100k-record ledger onto 300 target files: what `project`
//! computes (fold every chain, edit every file, versions.json), for the
//! seed's overlays and for a mix of the three target kinds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use criterion::{criterion_group, criterion_main, Criterion};
use gitops_ledger::clock::Timestamp;
use gitops_ledger::ledger::Ledger;
use gitops_ledger::store::WorkTree;

#[path = "support/ledger_fixture.rs"]
mod fixture;
use fixture::Layout;

fn bench_project(c: &mut Criterion) {
    let now = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
    let mut group = c.benchmark_group("project");
    group.sample_size(10);
    for (layout, label, fixture) in [
        (Layout::Overlays, "100k records, 100 apps x 3 overlays", "project-100000"),
        (
            Layout::Mixed,
            "100k records, 300 files of mixed kinds (kustomize, image-field, yaml)",
            "project-mixed-100000",
        ),
    ] {
        let dir = fixture::ledger_with_layout(&fixture::fixture_dir(fixture), 100_000, 100, layout);
        let tree = WorkTree::new(&dir);
        group.bench_function(label, |b| {
            b.iter(|| {
                let ledger = Ledger::load(&tree).unwrap();
                // Every chain folded: the fold cache is `read`'s to measure.
                let files = gitops_ledger::append::projection(&ledger, now, None).unwrap();
                assert_eq!(files.len(), 301);
                assert_eq!(files.iter().filter(|f| f.changes()).count(), 301, "every file and versions.json move");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_project);
criterion_main!(benches);
