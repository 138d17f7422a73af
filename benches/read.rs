//! The auditor's read side at scale: `status --at` (every chain folded),
//! `status` and `project --check` through a warm fold cache, and
//! `log | head -1` on a 100k-record ledger, and `audit` over a 10k-commit
//! history.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use criterion::{criterion_group, criterion_main, Criterion};
use gitops_ledger::append::projection;
use gitops_ledger::audit::{audit, AuditOptions};
use gitops_ledger::clock::Timestamp;
use gitops_ledger::fold_cache::FoldCache;
use gitops_ledger::ledger::Ledger;
use gitops_ledger::store::{GitRepo, WorkTree};

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
    // Warm: the first run of each folded every chain and filled the cache.
    let now = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
    group.bench_function("status, warm cache", |b| {
        b.iter(|| {
            let ledger = Ledger::load(&tree).unwrap();
            let cache = FoldCache::open(&tree, ledger.policies());
            let status = gitops_ledger::status::status(&ledger, cache.as_ref(), now).unwrap();
            assert_eq!(status.apps.len(), 50);
        })
    });
    group.bench_function("project --check, warm cache", |b| {
        b.iter(|| {
            let ledger = Ledger::load(&tree).unwrap();
            let cache = FoldCache::open(&tree, ledger.policies());
            let files = projection(&ledger, now, cache.as_ref()).unwrap();
            assert!(files.iter().all(|f| !f.changes()));
        })
    });
    // `log | head -1`: the binary with its stdout a pipe, read to the first
    // line, then the pipe dropped; the command must notice and stop.
    group.bench_function("log | head -1", |b| {
        b.iter(|| {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-ledger"))
                .arg("-C")
                .arg(&dir)
                .arg("log")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut first = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first)
                .unwrap();
            assert!(first.contains('@'), "{first}");
            assert!(child.wait().unwrap().success());
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
