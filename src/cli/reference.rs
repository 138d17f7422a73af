//! The CLI reference (`docs/cli.md`), generated from the clap definitions so
//! it cannot drift; a test compares the checked-in file with this output.

use std::fmt::Write;

/// Markdown for every command, in definition order.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# CLI reference\n\n<!-- Generated from the clap definitions by `cargo test` \
         (GITOPS_LEDGER_BLESS=1 rewrites it); do not edit by hand. -->\n\n",
    );
    let mut command = super::command();
    command.build();
    write_command(&mut out, &command, "");
    out
}

fn write_command(out: &mut String, command: &clap::Command, parent: &str) {
    let name =
        if parent.is_empty() { command.get_name().to_string() } else { format!("{parent} {}", command.get_name()) };
    let _ = writeln!(out, "## `{name}`\n");
    // The exit codes follow as a table, not as the text `--help` ends with.
    let mut sub = command.clone().disable_help_flag(false).term_width(100).after_long_help(None);
    let help = sub.render_long_help().to_string();
    let help: Vec<&str> = help.trim_end().lines().map(str::trim_end).collect();
    let _ = writeln!(out, "```text\n{}\n```\n", help.join("\n"));
    write_exit_codes(out, command);
    for child in command.get_subcommands().filter(|c| c.get_name() != "help") {
        write_command(out, child, &name);
    }
}

/// The command's exit codes as a Markdown table, if it has its own.
fn write_exit_codes(out: &mut String, command: &clap::Command) {
    let codes = super::exit_codes::of(command);
    if codes.is_empty() {
        return;
    }
    let _ = writeln!(out, "Exit codes:\n\n| code | meaning |\n| ---: | --- |");
    for (code, meaning) in codes {
        let _ = writeln!(out, "| {code} | {} |", meaning.replace('|', "\\|"));
    }
    out.push('\n');
}
