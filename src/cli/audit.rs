//! `audit`: walk the config repo's git history and check it against the ledger.

use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context};
use super::{CommandError, ExitKind, OutputFormat};
use crate::audit::{audit, AuditOptions};
use crate::clock::Span;
use crate::escape;
use crate::store::GitRepo;

const EXIT_CODES: ExitCodes = &[
    (0, "no error finding (warnings, such as a possibly backdated record, are reported)"),
    (
        1,
        "an error finding: a target file or versions.json edit no record backs, a landed ledger file changed later, \
         a record dated more than --skew after its landing commit",
    ),
    (2, "usage or I/O error (not a git repo, unknown --rev, bad duration)"),
];

/// Walk the git history: edits of projected files not backed by a record, landed records changed later, records dated far from the commit that landed them.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// The revision whose history to walk.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// Walk every ancestor (each diffed against its first parent), not only the first-parent line.
    #[arg(long)]
    pub all_parents: bool,
    /// How far a record's `at` may be after its landing commit (forward-dating could fake a soak).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_span)]
    pub skew: Span,
    /// How far before its landing commit a record's `at` may be before it is reported as possibly backdated.
    #[arg(long, value_name = "DURATION", default_value = "14d", value_parser = parse_span)]
    pub backdate: Span,
    /// Text for people, or one JSON object (the findings and where each record landed) for scripts.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

fn parse_span(text: &str) -> Result<Span, String> {
    Span::parse(text).map_err(|e| e.to_string())
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let repo = GitRepo::discover(context.tree.root())?;
    let options = AuditOptions {
        all_parents: args.all_parents,
        skew_seconds: args.skew.seconds(),
        backdate_seconds: args.backdate.seconds(),
    };
    let report = audit(&repo, &args.rev, &options)?;
    match args.format {
        OutputFormat::Json => {
            let text = escape::json_pretty(&report)?;
            say!(context, "{text}");
        }
        OutputFormat::Text => {
            for f in &report.findings {
                let level = if f.error { "error" } else { "warning" };
                // Authors and file names come from whoever made the commits.
                let line = format!(
                    "{level}: commit {} ({}, {}): {}: {}",
                    &f.commit[..12.min(f.commit.len())],
                    f.author,
                    f.time,
                    f.file,
                    f.message
                );
                say!(context, "{}", escape::terminal(&line));
            }
            for (label, landing) in &report.landed {
                say!(
                    context,
                    "landed {label} in {} at {}",
                    &landing.commit[..12.min(landing.commit.len())],
                    landing.time
                );
            }
            let errors = report.findings.iter().filter(|f| f.error).count();
            say!(
                context,
                "{}: {} commits of {}, {} records landed, {errors} error(s), {} warning(s)",
                if report.holds() { "ok" } else { "FAILED" },
                report.commits,
                report.rev,
                report.landed.len(),
                report.findings.len() - errors
            );
        }
    }
    Ok(if report.holds() { ExitKind::Holds } else { ExitKind::RuleFailed })
}
