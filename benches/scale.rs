//! Issue 14's figures at 100k records (and at 1M with
//! `GITOPS_LEDGER_BENCH_1M=1`), each command run as a user runs it — the
//! release binary, `GITOPS_LEDGER_NOW` fixed — and each verify set against
//! the signature floor measured in the same run, so a noisy machine moves
//! both sides of the ratio:
//!
//! ```sh
//! cargo bench --bench scale                            # 100k
//! GITOPS_LEDGER_BENCH_1M=1 cargo bench --bench scale   # 100k and 1M
//! ```
//!
//! Prints one markdown table per size: the median wall time of `RUNS`
//! runs (default 3), the CPU time and peak memory of the median run (GNU
//! `time`), and the ratio to the floor. Not a criterion benchmark: at 1M one
//! verify takes tens of seconds, and criterion wants ten samples of each.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/ledger_fixture.rs"]
mod fixture;

/// One run of a command: wall time, CPU time (user + system), peak RSS.
#[derive(Clone, Copy)]
struct Run {
    wall: Duration,
    cpu: Duration,
    max_rss_kb: u64,
}

/// Runs `gitops-ledger -C dir args…` under GNU time; with `first_line`, reads
/// one line of its output and closes the pipe, as `| head -1` does.
fn run_once(binary: &Path, dir: &Path, args: &[&str], first_line: bool) -> Run {
    let report = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%U %S %M", "-o"])
        .arg(report.path())
        .arg(binary)
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GITOPS_LEDGER_NOW", "2030-01-01T00:00:00Z")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("GNU time (/usr/bin/time, Debian package time)");
    let stdout = child.stdout.take().unwrap();
    if first_line {
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
        assert!(line.contains('@'), "{args:?}: {line}");
    } else {
        std::io::copy(&mut std::io::BufReader::new(stdout), &mut std::io::sink()).unwrap();
    }
    let status = child.wait().unwrap();
    let wall = started.elapsed();
    assert!(status.success(), "{args:?} failed");
    let text = std::fs::read_to_string(report.path()).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    let seconds = |s: &str| Duration::from_secs_f64(s.parse().unwrap());
    Run { wall, cpu: seconds(fields[0]) + seconds(fields[1]), max_rss_kb: fields[2].parse().unwrap() }
}

/// The median run of `runs`, by wall time.
fn median(binary: &Path, dir: &Path, args: &[&str], first_line: bool, runs: usize) -> Run {
    let mut all: Vec<Run> = (0..runs).map(|_| run_once(binary, dir, args, first_line)).collect();
    all.sort_by_key(|r| r.wall);
    all[all.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter is not supported.
    let runs: usize = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let binary = fixture::release_binary();
    let mut sizes = vec![(100_000, 50)];
    if std::env::var_os("GITOPS_LEDGER_BENCH_1M").is_some_and(|v| v == "1") {
        sizes.push((1_000_000, 500));
    }
    for (records, apps) in sizes {
        let dir = fixture::with_pull_request(records, apps);
        let prepared = fixture::prepared_signatures(&dir);
        let mut floors: Vec<Duration> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                fixture::verify_signatures(&prepared);
                started.elapsed()
            })
            .collect();
        floors.sort();
        let floor = floors[floors.len() / 2];
        let signatures = prepared.len();
        drop(prepared);

        println!("\n### {records} records, {apps} apps, {signatures} signatures, median of {runs}\n");
        println!("| command | wall | CPU | peak memory | × floor |");
        println!("|---|---|---|---|---|");
        println!("| signature floor (`verify_batch`, all cores) | {:.2} s | | | 1.0 |", floor.as_secs_f64());
        let measures: [(&str, &[&str], bool, bool); 7] = [
            ("`verify`", &["verify"], false, true),
            ("`verify --rev HEAD`", &["verify", "--rev", "HEAD"], false, true),
            ("PR check `verify --rev HEAD --base base`", &["verify", "--rev", "HEAD", "--base", "base"], false, false),
            ("PR check from the work tree `verify --base base`", &["verify", "--base", "base"], false, false),
            ("`status`", &["status"], false, false),
            ("`project --check`", &["project", "--check"], false, false),
            ("`log \\| head -1`", &["log"], true, false),
        ];
        for (label, args, first_line, against_floor) in measures {
            let run = median(&binary, &dir, args, first_line, runs);
            let ratio = if against_floor {
                format!("{:.1}", run.wall.as_secs_f64() / floor.as_secs_f64())
            } else {
                String::new()
            };
            println!(
                "| {label} | {:.2} s | {:.2} s | {} MB | {ratio} |",
                run.wall.as_secs_f64(),
                run.cpu.as_secs_f64(),
                run.max_rss_kb / 1000
            );
        }
    }
}
