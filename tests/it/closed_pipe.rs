//! `gitops-ledger log | head -1`: a reader that goes away early is not an
//! error. What is left to print is dropped, stderr stays quiet, and the exit
//! code is still the command's verdict.

use std::io::BufRead;
use std::process::{Command, Output, Stdio};

use crate::common::{Forged, TestRepo};

/// `repo.cmd()` (its binary, environment and directory) as a std command,
/// which can be spawned with a pipe of our own.
fn command(repo: &TestRepo, args: &[&str]) -> Command {
    let hermetic = repo.cmd();
    let mut cmd = Command::new(hermetic.get_program());
    cmd.env_clear().args(args);
    for (key, value) in hermetic.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    if let Some(dir) = hermetic.get_current_dir() {
        cmd.current_dir(dir);
    }
    cmd
}

/// Runs with stdout a pipe whose read end is closed before the command
/// starts, so its first write fails with EPIPE.
fn run_into_closed_pipe(repo: &TestRepo, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    command(repo, args).stdout(writer).stderr(Stdio::piped()).output().unwrap()
}

/// dev, promoted `n` times by ci, written through the library: fast, and
/// `log` does not judge the records.
fn long_history(n: u64) -> TestRepo {
    let repo = TestRepo::with_signed_policy();
    let fills = "0123456789abcdef".as_bytes();
    for seq in 1..=n {
        let fill = char::from(fills[(seq % 16) as usize]);
        repo.forge(Forged::new(seq, "dev", fill, "2026-11-27T08:00:00Z", &["ci"]));
    }
    repo
}

#[test]
fn log_into_a_closed_pipe_exits_0_quietly() {
    let repo = long_history(3);
    let out = run_into_closed_pipe(&repo, &["log"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn log_piped_into_head_1_exits_0_quietly() {
    // About 95 bytes a line: well past a 64 KiB pipe buffer, so the command
    // is still writing when the reader goes away.
    let repo = long_history(1500);
    let mut child = command(&repo, &["log"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    drop(reader);
    let out = child.wait_with_output().unwrap();
    assert!(first.contains("api@1500"), "newest first: {first}");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn verify_into_a_closed_pipe_still_exits_1_for_a_failed_rule_without_an_error() {
    let repo = TestRepo::with_signed_policy();
    // Staging by ci, who may only sign dev, from a dev that never ran it.
    repo.forge(Forged::new(1, "staging", 'a', "2026-11-27T08:00:00Z", &["ci"]));
    assert!(repo.fails(1, &["verify"]).contains("FAILED"));
    let out = run_into_closed_pipe(&repo, &["verify"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("error:"), "{stderr}");
    assert_eq!(stderr, "");
}

/// At a million records `log | head -1` printed an error on the closed pipe;
/// the JSON form and replay, which stream too, stay quiet as the text form.
#[test]
fn log_json_and_replay_into_a_closed_pipe_exit_0_quietly() {
    let repo = long_history(3);
    for args in [&["log", "--format", "json"][..], &["replay"], &["replay", "--format", "json"]] {
        let out = run_into_closed_pipe(&repo, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}

/// The completion script and the man page are printed whole; a reader that
/// closes early (`gitops-ledger man | head`) gets no error either.
#[test]
fn completions_and_man_into_a_closed_pipe_exit_0_quietly() {
    let repo = TestRepo::new();
    for args in [&["completions", "bash"][..], &["man"]] {
        let out = run_into_closed_pipe(&repo, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}
