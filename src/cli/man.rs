//! `man`: one manual page for the whole tool, generated from the clap
//! definitions. clap_mangen writes a page per command that refers to the
//! others as `gitops-ledger-promote(1)`; one page installs as one file and
//! `man gitops-ledger` finds every command in it.

use std::io::Write;

use clap_mangen::Man;

use super::exit_codes::{self, ExitCodes};
use super::util::Context;
use super::{CliError, CommandError, ExitKind};

const EXIT_CODES: ExitCodes = &[(0, "printed the page"), (2, "usage or I/O error (an unexpected argument)")];

/// Print the manual page (roff), every command in one page.
///
/// `gitops-ledger man | man -l -` shows it; saved as gitops-ledger.1 in a man1 directory of the man path,
/// `man gitops-ledger` finds it.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {}

pub fn run(context: &mut Context, _args: Args) -> Result<ExitKind, CommandError> {
    let page = manual_page().map_err(CliError::Output)?;
    context.out.write_all(&page).map_err(CliError::Output)?;
    Ok(ExitKind::Holds)
}

/// The page: the tool's own NAME, SYNOPSIS, DESCRIPTION and OPTIONS, then a
/// section for each command, depth first in definition order, and VERSION.
fn manual_page() -> std::io::Result<Vec<u8>> {
    let mut tool = super::command().disable_help_subcommand(true);
    tool.build();
    let mut page = Vec::new();
    let man = Man::new(tool.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    for command in tool.get_subcommands() {
        write_command(&mut page, command)?;
    }
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// A command's section, headed by its full name (`GITOPS-LEDGER POLICY
/// SIGN`), with its synopsis, description, options and exit status as
/// subsections; then its own commands' sections.
fn write_command(page: &mut Vec<u8>, command: &clap::Command) -> std::io::Result<()> {
    let name = command.get_bin_name().unwrap_or_else(|| command.get_name());
    writeln!(page, ".SH \"{}\"", name.to_uppercase())?;
    let man = Man::new(command.clone());
    let mut sections = Vec::new();
    man.render_synopsis_section(&mut sections)?;
    man.render_description_section(&mut sections)?;
    man.render_options_section(&mut sections)?;
    // clap_mangen heads each part with `.SH`; within a command's section they are subsections.
    for line in String::from_utf8_lossy(&sections).lines() {
        match line.strip_prefix(".SH ") {
            Some(heading) => writeln!(page, ".SS {heading}")?,
            None => writeln!(page, "{line}")?,
        }
    }
    write_exit_status(page, command)?;
    for child in command.get_subcommands() {
        write_command(page, child)?;
    }
    Ok(())
}

/// The exit codes `--help` ends with, as a list of tagged paragraphs rather
/// than the preformatted text clap_mangen would reflow into one line.
fn write_exit_status(page: &mut Vec<u8>, command: &clap::Command) -> std::io::Result<()> {
    let codes = exit_codes::of(command);
    if codes.is_empty() {
        return Ok(());
    }
    writeln!(page, ".SS \"EXIT STATUS\"")?;
    for (code, meaning) in codes {
        writeln!(page, ".TP\n{code}\n{}", roff_text(&meaning))?;
    }
    Ok(())
}

/// `text` as one roff text line: backslashes escaped, and a leading `.` or
/// `'` kept from being read as a request.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
