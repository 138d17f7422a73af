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
//! `time`), and the ratio to the floor. The work-tree PR check runs again
//! through a Watchman daemon of its own (Debian package `watchman`) behind
//! git's sample hook. Not a criterion benchmark: at 1M one
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

/// Runs `gitops-ledger -C dir args…` under GNU time, with `env` added; with
/// `first_line`, reads one line of its output and closes the pipe, as `| head -1` does.
fn run_once(binary: &Path, dir: &Path, args: &[&str], first_line: bool, env: &[(&str, &Path)]) -> Run {
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
        .envs(env.iter().copied())
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

/// A Watchman daemon of the benchmark's own, answering git's sample hook set
/// as the fixture's `core.fsmonitor`; all of it undone on drop.
struct Watchman<'d> {
    fixture: &'d Path,
    daemon: tempfile::TempDir,
}

impl<'d> Watchman<'d> {
    fn start(fixture: &'d Path) -> Self {
        let watchman = Watchman { fixture, daemon: tempfile::tempdir().unwrap() };
        let hooks = fixture.join(".git/hooks");
        std::fs::copy(hooks.join("fsmonitor-watchman.sample"), hooks.join("query-watchman")).unwrap();
        let config = fixture::git(fixture).args(["config", "core.fsmonitor", ".git/hooks/query-watchman"]).status();
        assert!(config.unwrap().success());
        let started = watchman.client().arg("get-sockname").output().expect("watchman (Debian package watchman)");
        assert!(started.status.success(), "watchman: {}", String::from_utf8_lossy(&started.stderr));
        watchman
    }

    fn sock(&self) -> std::path::PathBuf {
        self.daemon.path().join("sock")
    }

    fn client(&self) -> Command {
        let path = |name: &str| self.daemon.path().join(name).display().to_string();
        let mut client = Command::new("watchman");
        client.arg(format!("--sockname={}", path("sock")));
        client.arg(format!("--statefile={}", path("state"))).arg(format!("--logfile={}", path("log")));
        client.arg(format!("--pidfile={}", path("pid"))).arg("--no-save-state");
        client
    }
}

impl Drop for Watchman<'_> {
    fn drop(&mut self) {
        let _ = fixture::git(self.fixture).args(["config", "--unset", "core.fsmonitor"]).status();
        let _ = std::fs::remove_file(self.fixture.join(".git/hooks/query-watchman"));
        let _ = std::fs::remove_file(self.fixture.join(".git/gitops-ledger/fsmonitor.json"));
        let _ = self.client().arg("shutdown-server").output();
    }
}

/// The median run of `runs`, by wall time.
fn median(binary: &Path, dir: &Path, args: &[&str], first_line: bool, runs: usize, env: &[(&str, &Path)]) -> Run {
    let mut all: Vec<Run> = (0..runs).map(|_| run_once(binary, dir, args, first_line, env)).collect();
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
            let run = median(&binary, &dir, args, first_line, runs, &[]);
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

        // The work-tree check again, with a file-system monitor: the first
        // run has no state yet (and the hook lists every file once); the
        // median is of the runs after it.
        let watchman = Watchman::start(&dir);
        let sock = watchman.sock();
        let env = [("WATCHMAN_SOCK", sock.as_path())];
        let pr_check = ["verify", "--base", "base"];
        let first = run_once(&binary, &dir, &pr_check, false, &env);
        let run = median(&binary, &dir, &pr_check, false, runs, &env);
        for (label, run) in [("first run", first), ("the runs after", run)] {
            println!(
                "| PR check from the work tree through Watchman (`core.fsmonitor`), {label} | {:.2} s | {:.2} s | {} MB | |",
                run.wall.as_secs_f64(),
                run.cpu.as_secs_f64(),
                run.max_rss_kb / 1000
            );
        }
        drop(watchman);
    }
}
