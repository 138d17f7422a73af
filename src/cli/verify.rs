//! `verify`: check every rule over the config repo; CI runs it on each pull request.

use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context};
use super::{CommandError, ExitKind};
use crate::ledger::Ledger;
use crate::record::RecordId;
use crate::store::{GitTree, IndexedWorkTree, Snapshot};
use crate::verify::{verify, verify_change, Report, VerifyOptions};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON object: result, counts, violations, warnings.
    Json,
    /// GitHub Actions workflow commands, so a pull request shows them inline.
    Github,
}

const EXIT_CODES: ExitCodes = &[
    (0, "every rule holds (pending approvals and break-glass overrides are reported)"),
    (1, "a rule failed or drift (each violation names file, record and rule)"),
    (2, "usage or I/O error (bad flag, unknown or unfetched --rev or --base, a ledger file that cannot be read)"),
];

/// Prove the ledger's rules: signatures, chains, provenance, soak, freeze; with --base, a pull request's change.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// Check the tree of this revision (read from git objects; no checkout needed) instead of the work tree.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Pull-request check: relative to this revision, promotions/ may only gain files (approvals are records of
    /// their own), and what is new must pass every rule.
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Pin policy version 1 by its id (sha256:HEX); without it, the root is trusted on first use.
    #[arg(long, value_name = "ID")]
    pub trust: Option<RecordId>,
    /// Text for people, JSON for scripts, or GitHub Actions annotations for a pull request.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let options = VerifyOptions { trust: args.trust };
    let now = context.clock.now();
    let rev_tree = match &args.rev {
        Some(rev) => Some(open_rev(context, rev)?),
        None => None,
    };
    // A pull-request check of the work tree compares it with the base
    // through the index's stat data, reading only the files that changed.
    let indexed = match (&rev_tree, &args.base) {
        (None, Some(_)) => IndexedWorkTree::open(&context.tree)?,
        _ => None,
    };
    let head_tree: &dyn Snapshot = match (&rev_tree, &indexed) {
        (Some(tree), _) => tree,
        (None, Some(indexed)) => indexed,
        (None, None) => &context.tree,
    };
    let head = Ledger::load(head_tree)?;
    let mut report = match &args.base {
        Some(base) => {
            let base_tree = open_rev(context, base)?;
            let mut report = verify_change(&Ledger::load(&base_tree)?, &head, &options, now)?;
            report.base = Some(format!("{} ({})", base_tree.rev, base_tree.commit));
            report
        }
        None => verify(&head, None, &options, now)?,
    };
    if let Some(indexed) = &indexed {
        indexed.remember();
        if let Some(problem) = &indexed.monitor_problem {
            report.warnings.push(format!("{problem}; every file was compared with the index instead"));
        }
    }
    match args.format {
        Format::Text => write_text(context, &report)?,
        Format::Json => write_json(context, &report)?,
        Format::Github => write_github(context, &report)?,
    }
    Ok(if report.holds() { ExitKind::Holds } else { ExitKind::RuleFailed })
}

/// A revision's tree, read through git objects.
fn open_rev(context: &Context, rev: &str) -> Result<GitTree, CommandError> {
    GitTree::open(context.tree.root(), rev).map_err(|err| {
        CommandError::from(err).with_hint(format!(
            "a CI checkout is often shallow: fetch the revision first (git fetch --depth=1 origin {rev})"
        ))
    })
}

fn write_text(context: &mut Context, report: &Report) -> Result<(), CommandError> {
    for warning in &report.warnings {
        say!(context, "warning: {warning}");
    }
    for note in &report.overrides {
        say!(context, "warning: {note}");
    }
    for violation in &report.violations {
        say!(context, "{violation}");
    }
    for pending in &report.pending {
        say!(context, "{pending}");
    }
    let c = &report.counts;
    let what = match &report.base {
        Some(base) => format!("{} new or changed records against {base}", c.records),
        None => format!("{} records", c.records),
    };
    let summary = format!(
        "{what} of {} apps, {} signatures, {} policy version{}",
        c.apps,
        c.signatures,
        c.policies,
        if c.policies == 1 { "" } else { "s" }
    );
    let overrides = match report.overrides.len() {
        0 => String::new(),
        n => format!(" ({n} break-glass override{} reported above)", if n == 1 { "" } else { "s" }),
    };
    let pending = match c.pending {
        0 => String::new(),
        n => format!("; {n} record{} pending approval (not a failure)", if n == 1 { "" } else { "s" }),
    };
    if report.holds() {
        say!(context, "ok: {summary}: every rule holds{overrides}{pending}");
    } else {
        say!(context, "FAILED: {summary}: {} violation(s){pending}", report.violations.len());
    }
    Ok(())
}

fn write_json(context: &mut Context, report: &Report) -> Result<(), CommandError> {
    let value = serde_json::json!({
        "result": if report.holds() { "pass" } else { "fail" },
        "base": report.base,
        "counts": report.counts,
        "violations": report.violations,
        "pending": report.pending,
        "warnings": report.warnings,
        "overrides": report.overrides,
    });
    let text = serde_json::to_string_pretty(&value)?;
    say!(context, "{text}");
    Ok(())
}

/// Workflow-command values escape `%`, CR and LF; properties also `:` and `,`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn write_github(context: &mut Context, report: &Report) -> Result<(), CommandError> {
    for warning in &report.warnings {
        say!(context, "::warning title=gitops-ledger::{}", escape_data(warning));
    }
    for note in &report.overrides {
        say!(
            context,
            "::warning file={},title={}::{}",
            escape_property(&note.file),
            escape_property(&format!("break-glass override ({})", note.record)),
            escape_data(&note.to_string())
        );
    }
    for note in &report.pending {
        say!(
            context,
            "::notice file={},title={}::{}",
            escape_property(&note.file),
            escape_property(&format!("pending approval ({})", note.record)),
            escape_data(&note.to_string())
        );
    }
    for v in &report.violations {
        let title = match &v.record {
            Some(record) => format!("{} ({record})", v.rule),
            None => v.rule.to_string(),
        };
        say!(
            context,
            "::error file={},title={}::{}",
            escape_property(&v.file),
            escape_property(&title),
            escape_data(&v.message)
        );
    }
    write_text(context, report)
}
