//! Each command's exit codes, declared once beside its clap definition as a
//! `const EXIT_CODES` and attached with
//! `#[command(after_long_help = exit_codes::help(EXIT_CODES))]`: `--help`
//! ends with them, and [`exit_codes`] reads them back from the clap tree for
//! the reference (docs/cli.md) and the tests, so there is no second list.

use clap::builder::styling::Styles;
use clap::builder::StyledStr;

/// A command's exit codes, ascending, each with what it means for that command.
pub type ExitCodes = &'static [(u8, &'static str)];

/// The heading of the section; each code follows it as `  CODE  MEANING`.
const HEADING: &str = "Exit codes:";

/// Meanings are wrapped here, under their first word; clap would wrap them
/// without the indent. Narrower terminals rewrap what is left.
const WIDTH: usize = 80;

/// The section a command's `--help` ends with.
pub(crate) fn help(codes: ExitCodes) -> StyledStr {
    let header = Styles::default().get_header().to_owned();
    let mut text = format!("{header}{HEADING}{header:#}");
    for (code, meaning) in codes {
        let mut line = format!("  {code} ");
        let indent = " ".repeat(line.len() + 1);
        let width = |text: &str| text.chars().count();
        for word in meaning.split_whitespace() {
            if width(&line) + 1 + width(word) > WIDTH && width(&line) > indent.len() {
                text.push('\n');
                text.push_str(&line);
                line.clone_from(&indent);
            } else {
                line.push(' ');
            }
            line.push_str(word);
        }
        text.push('\n');
        text.push_str(&line);
    }
    text.into()
}

/// One exit code of one command.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExitCodeRow {
    /// The command as typed after `gitops-ledger`, e.g. `promote` or `policy sign`.
    pub command: String,
    pub code: u8,
    pub meaning: String,
}

/// Every command's exit codes, in definition order, read from the clap
/// definitions. Commands with subcommands (`policy`) have none of their own.
pub fn exit_codes() -> Vec<ExitCodeRow> {
    let mut rows = Vec::new();
    let mut command = super::command();
    command.build();
    collect(&command, "", &mut rows);
    rows
}

fn collect(parent: &clap::Command, prefix: &str, rows: &mut Vec<ExitCodeRow>) {
    for command in parent.get_subcommands().filter(|c| c.get_name() != "help") {
        let path = format!("{prefix}{}", command.get_name());
        for (code, meaning) in of(command) {
            rows.push(ExitCodeRow { command: path.clone(), code, meaning });
        }
        collect(command, &format!("{path} "), rows);
    }
}

/// The codes a command's `--help` lists, as [`help`] wrote them: a line
/// `  CODE  MEANING` a code, its meaning continued on more indented lines.
pub(crate) fn of(command: &clap::Command) -> Vec<(u8, String)> {
    let Some(section) = command.get_after_long_help().map(ToString::to_string) else {
        return Vec::new();
    };
    let mut rows: Vec<(u8, String)> = Vec::new();
    for line in section.lines().skip_while(|line| *line != HEADING).skip(1) {
        match rows.last_mut() {
            Some((_, meaning)) if line.starts_with("   ") => {
                meaning.push(' ');
                meaning.push_str(line.trim());
            }
            _ => {
                let row = line.trim_start().split_once("  ");
                if let Some((code, meaning)) = row.and_then(|(code, meaning)| Some((code.parse().ok()?, meaning))) {
                    rows.push((code, meaning.to_string()));
                }
            }
        }
    }
    rows
}
