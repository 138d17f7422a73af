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
use gitops_ledger::canonical::record_id;
use gitops_ledger::clock::Timestamp;
use gitops_ledger::ledger::Ledger;
use gitops_ledger::record::{record_path, Name};
use gitops_ledger::store::{GitTree, WorkTree};
use gitops_ledger::verify::{verify, verify_change, VerifyOptions};
use rayon::prelude::*;

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

/// The fixture plus one more valid record on top, committed: `base` is the
/// ledger, HEAD adds the record, as a promotion pull request would.
fn fixture_with_pull_request(records: usize, apps: usize) -> std::path::PathBuf {
    let dir = fixture::ledger(&fixture::fixture_dir(&format!("verify-{records}")), records, apps);
    let tags = fixture::git(&dir).args(["tag", "--list", "base"]).output().unwrap();
    if !String::from_utf8_lossy(&tags.stdout).contains("base") {
        let app = Name::parse("app-000").unwrap();
        let per_app = records / apps;
        let tree = WorkTree::new(&dir);
        let ledger = Ledger::load(&tree).unwrap();
        let mut chain = ledger.chain(&app).unwrap();
        let last = chain.records.last().unwrap().clone();
        // The next record in the cycle pattern keeps every rule.
        let record =
            fixture::cycle_record(&app, 0, per_app, Some(record_id(&last.record).unwrap()), &fixture::Keys::load());
        std::fs::write(dir.join(record_path(&app, record.seq)), record.to_pretty_json()).unwrap();
        // With its projection, as `promote` would have written it.
        let path = record_path(&app, record.seq);
        chain.records.push(gitops_ledger::ledger::RecordFile::new(path, record).unwrap());
        for file in gitops_ledger::project::plan_app(&ledger, &chain).unwrap().iter().filter(|f| f.changes()) {
            std::fs::write(dir.join(&file.path), &file.projected).unwrap();
        }
        for args in [&["tag", "base"][..], &["add", "-A"], &["commit", "-q", "-m", "one promotion"]] {
            assert!(fixture::git(&dir).args(args).status().unwrap().success());
        }
    }
    dir
}

fn bench_verify(c: &mut Criterion) {
    let options = VerifyOptions::default();
    for (records, apps) in sizes() {
        let dir = fixture_with_pull_request(records, apps);
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
        let ledger = Ledger::load(&work_tree).unwrap();
        let policy = ledger.policy_files()[0].policy.clone();
        let records: Vec<_> = ledger.chains(None).unwrap().into_iter().flat_map(|chain| chain.records).collect();
        let prepared: Vec<_> = records
            .iter()
            .flat_map(|r| r.record.signatures.iter().map(move |s| (r, s)))
            .map(|(r, s)| policy.keys[&s.signer].prepare(&r.message, &s.sig).unwrap())
            .collect();
        drop(records);
        group.bench_function(BenchmarkId::new("ed25519 batch only", prepared.len()), |b| {
            b.iter(|| {
                prepared.par_chunks(64).for_each(|chunk| {
                    let messages: Vec<&[u8]> = chunk.iter().map(|p| p.signed_data.as_slice()).collect();
                    let signatures: Vec<_> = chunk.iter().map(|p| p.signature).collect();
                    let keys: Vec<_> = chunk.iter().map(|p| p.key).collect();
                    ed25519_dalek::verify_batch(&messages, &signatures, &keys).unwrap();
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
