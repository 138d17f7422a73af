//! `promote --push` from many CI jobs at once: how long until every job's
//! promotion has landed on a local bare remote. Each job is its own clone and
//! its own process (the release binary), as in CI; half the jobs promote one
//! app, so they claim the same sequence numbers and must rebuild. The floor,
//! from the same run, is one job pushing alone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

#[path = "support/ledger_fixture.rs"]
mod fixture;

const RECORDS: usize = 1_000;
const APPS: usize = 50;

/// A bare remote holding the fixture ledger, and one clone of it per job.
fn remote_and_clones(ledger: &Path, work: &Path, jobs: usize) -> Vec<PathBuf> {
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).unwrap();
    let bare = work.join("remote.git");
    let run = |dir: &Path, args: &[&str]| {
        let status = fixture::git(dir).args(args).stdout(Stdio::null()).status().expect("git");
        assert!(status.success(), "git {args:?}");
    };
    run(work, &["clone", "-q", "--bare", ledger.to_str().unwrap(), bare.to_str().unwrap()]);
    (0..jobs)
        .map(|job| {
            let clone = work.join(format!("job-{job}"));
            run(work, &["clone", "-q", bare.to_str().unwrap(), clone.to_str().unwrap()]);
            run(&clone, &["config", "user.name", "Bench CI"]);
            run(&clone, &["config", "user.email", "ci@example.invalid"]);
            clone
        })
        .collect()
}

/// Starts every job at once and waits until all have landed.
fn land_all(binary: &Path, clones: &[PathBuf], round: u64) -> Duration {
    let start = Instant::now();
    let children: Vec<_> = clones
        .iter()
        .enumerate()
        .map(|(job, clone)| {
            // Half the jobs promote app-001; the rest one app each.
            let app = if job % 2 == 0 { "app-001".to_string() } else { format!("app-{:03}", 10 + job) };
            let digest = format!("sha256:{:064x}", 0x9a5b_0000_0000u64 + round * 1000 + job as u64);
            Command::new(binary)
                .current_dir(clone)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GITOPS_LEDGER_NOW", "2030-01-01T00:00:00Z")
                .args(["promote", "--app", &app, "--env", "dev", "--push", "--retries", "20", "--key"])
                .arg(fixture::keys_dir().join("ci"))
                .arg("--image")
                .arg(format!("ghcr.io/bench/{app}@{digest}"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("wait");
        assert!(output.status.success(), "a job failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    start.elapsed()
}

fn concurrent_push(c: &mut Criterion) {
    let binary = fixture::release_binary();
    let ledger = fixture::ledger(&fixture::fixture_dir(&format!("push-{RECORDS}")), RECORDS, APPS);
    let work = fixture::fixture_dir("push-work");
    let mut group = c.benchmark_group("promote --push, all landed");
    group.sample_size(10);
    for jobs in [1usize, 8] {
        group.bench_with_input(BenchmarkId::new("jobs", jobs), &jobs, |b, &jobs| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for round in 0..iters {
                    let clones = remote_and_clones(&ledger, &work, jobs);
                    total += land_all(&binary, &clones, round);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, concurrent_push);
criterion_main!(benches);
