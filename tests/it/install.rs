//! What installing the tool gives a user beyond the binary: a version line
//! naming the commit, shell completions, and the manual page, each checked
//! with the real client (bash, groff).

use std::path::Path;
use std::process::Output;

use gitops_ledger::cli::exit_codes;

use crate::common::{tool_available, TestRepo};

#[path = "../../build/commit.rs"]
mod commit;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `git log -1 --format='%h %cs'` of the checkout the binary was built from.
fn built_from() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(crate_dir)
        .args(["log", "-1", "--no-show-signature", "--abbrev=7", "--format=%h %cs"])
        .output()
        .unwrap();
    stdout(&out).trim().to_string()
}

#[test]
fn version_names_the_commit_and_its_date() {
    let repo = TestRepo::new();
    let expected = format!("gitops-ledger {} ({})\n", env!("CARGO_PKG_VERSION"), built_from());
    assert_eq!(repo.ok(&["--version"]), expected);
    assert_eq!(repo.ok(&["verify", "--version"]), expected.replace("gitops-ledger", "gitops-ledger-verify"));
}

#[test]
fn version_from_the_packaged_crate_names_its_commit_and_without_either_only_the_version() {
    let vcs_info =
        "{\n  \"git\": {\n    \"sha1\": \"0123456789abcdef0123456789abcdef01234567\"\n  },\n  \"path_in_vcs\": \"\"\n}";
    let cases = [
        (Some("bc1e1be 2026-12-06\n"), Some(vcs_info), " (bc1e1be 2026-12-06)"),
        (None, Some(vcs_info), " (0123456)"),
        (Some(""), Some(vcs_info), " (0123456)"),
        (None, Some("{\"git\": {\"sha1\": \"not a commit\"}}"), ""),
        (None, Some("{\"path_in_vcs\": \"\"}"), ""),
        (None, None, ""),
    ];
    for (git_log, cargo_vcs_info, suffix) in cases {
        assert_eq!(commit::version_suffix(git_log, cargo_vcs_info), suffix, "{git_log:?} {cargo_vcs_info:?}");
    }
}

#[test]
fn bash_loads_the_completion_script() {
    let repo = TestRepo::new();
    let out = repo.bash("source <(gitops-ledger completions bash); complete -p gitops-ledger");
    insta::assert_snapshot!(stdout(&out), @"complete -o bashdefault -o default -o nosort -F _gitops__ledger gitops-ledger");
}

#[test]
fn bash_completes_commands_and_their_flags() {
    let repo = TestRepo::new();
    // What bash sets before it calls the completion function for `gitops-ledger WORDS<TAB>`.
    let complete = |words: &str| {
        let script = format!(
            "source <(gitops-ledger completions bash)\n\
             COMP_WORDS=(gitops-ledger {words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
             _gitops__ledger gitops-ledger \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        stdout(&repo.bash(&script))
    };
    insta::assert_snapshot!(complete("pro"), @r"
    promote
    project
    ");
    insta::assert_snapshot!(complete("policy ''"), @r"
    -C
    -h
    -V
    --help
    --version
    sign
    new
    help
    ");
    insta::assert_snapshot!(complete("completions ''"), @r"
    -C
    -h
    -V
    --help
    --version
    bash
    zsh
    fish
    powershell
    ");
    insta::assert_snapshot!(complete("verify --for"), @"--format");
}

#[test]
fn zsh_fish_and_powershell_scripts_complete_every_command() {
    let repo = TestRepo::new();
    let mut tool = gitops_ledger::cli::command();
    tool.build();
    for (shell, first_line) in [
        ("zsh", "#compdef gitops-ledger"),
        ("fish", "# Print an optspec for argparse to handle cmd's options that are independent of any subcommand."),
        ("powershell", "using namespace System.Management.Automation"),
    ] {
        let script = repo.ok(&["completions", shell]);
        assert_eq!(script.lines().find(|line| !line.is_empty()), Some(first_line), "{shell}");
        for command in tool.get_subcommands() {
            assert!(script.contains(command.get_name()), "{shell} does not complete {}", command.get_name());
        }
    }
}

/// The `.SH` headings of the page, one a line.
fn headings(page: &str) -> String {
    page.lines().filter(|line| line.starts_with(".SH ")).collect::<Vec<_>>().join("\n")
}

#[test]
fn the_man_page_has_a_section_for_every_command_and_renders_without_warnings() {
    let repo = TestRepo::new();
    let page = repo.ok(&["man"]);
    insta::assert_snapshot!(headings(&page), @r#"
    .SH NAME
    .SH SYNOPSIS
    .SH DESCRIPTION
    .SH OPTIONS
    .SH "GITOPS-LEDGER KEYGEN"
    .SH "GITOPS-LEDGER INIT"
    .SH "GITOPS-LEDGER POLICY"
    .SH "GITOPS-LEDGER POLICY SIGN"
    .SH "GITOPS-LEDGER POLICY NEW"
    .SH "GITOPS-LEDGER PROMOTE"
    .SH "GITOPS-LEDGER APPROVE"
    .SH "GITOPS-LEDGER EVIDENCE"
    .SH "GITOPS-LEDGER PROJECT"
    .SH "GITOPS-LEDGER STATUS"
    .SH "GITOPS-LEDGER LOG"
    .SH "GITOPS-LEDGER REPLAY"
    .SH "GITOPS-LEDGER STATS"
    .SH "GITOPS-LEDGER AUDIT"
    .SH "GITOPS-LEDGER REPORT"
    .SH "GITOPS-LEDGER VERIFY"
    .SH "GITOPS-LEDGER ATTEST"
    .SH "GITOPS-LEDGER COMPLETIONS"
    .SH "GITOPS-LEDGER MAN"
    .SH VERSION
    "#);
    // Every command with exit codes lists them, as --help does.
    let commands_with_codes: std::collections::BTreeSet<String> =
        exit_codes().into_iter().map(|row| row.command).collect();
    assert_eq!(page.matches(".SS \"EXIT STATUS\"").count(), commands_with_codes.len());

    if !tool_available("groff", "the man page renders") {
        return;
    }
    let mut groff = std::process::Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut groff.stdin.take().unwrap(), page.as_bytes()).unwrap();
    let out = groff.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "");
}
