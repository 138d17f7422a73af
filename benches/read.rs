//! The auditor's read side at scale: `status --at` and `log` on a 100k-record
//! ledger, and `audit` over a 10k-commit history.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use criterion::{criterion_group, criterion_main, Criterion};
use gitops_ledger::audit::{audit, AuditOptions};
use gitops_ledger::clock::Timestamp;
use gitops_ledger::store::{GitRepo, WorkTree};

use gitops_ledger::ledger::Ledger;

#[path = "support/ledger_fixture.rs"]
mod fixture;

fn bench_read(c: &mut Criterion) {
    let dir = fixture::ledger(&fixture::fixture_dir("verify-100000"), 100_000, 50);
    let tree = WorkTree::new(&dir);
    let mut group = c.benchmark_group("read 100k");
    group.sample_size(10);
    let middle = Timestamp::from_unix(fixture::START + 1000 * fixture::STEP).unwrap();
    group.bench_function("status --at", |b| {
        b.iter(|| {
            let ledger = Ledger::load(&tree).unwrap();
            let status = gitops_ledger::status::status(&ledger, None, middle).unwrap();
            assert_eq!(status.apps.len(), 50);
        })
    });
    group.bench_function("log (all records, newest first, one line each)", |b| {
        b.iter(|| {
            let ledger = Ledger::load(&tree).unwrap();
            let chains = ledger.chains(None).unwrap();
            let mut records = gitops_ledger::history::in_time_order(&chains);
            records.reverse();
            let lines: usize = records.iter().map(|r| format!("{} {}", r.record.at, r.record.label()).len()).sum();
            assert!(lines > 0 && records.len() >= 100_000);
        })
    });
    group.finish();

    let history = fixture::history(&fixture::fixture_dir("audit-10000"), 10_000, 50);
    let repo = GitRepo::discover(&history).unwrap();
    let options = AuditOptions { all_parents: false, skew_seconds: 600, backdate_seconds: 14 * 86_400 };
    let mut group = c.benchmark_group("audit");
    group.sample_size(10);
    group.bench_function("10k commits", |b| {
        b.iter(|| {
            let report = audit(&repo, "HEAD", &options).unwrap();
            assert_eq!(report.commits, 10_001);
            assert_eq!(report.landed.len(), 10_000);
            assert!(report.holds(), "{:?}", report.findings.first());
        })
    });
    group.finish();
}

criterion_group!(benches, bench_read);
criterion_main!(benches);
