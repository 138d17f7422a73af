//! `verify`: check every rule over the config repo; CI runs it on each pull request.

use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{open_rev, plural, say, Context};
use super::{CommandError, ExitKind};
use crate::escape;
use crate::ledger::Ledger;
use crate::record::RecordId;
use crate::store::{IndexedWorkTree, Snapshot};
use crate::verify::{verify, verify_change, Report, VerifyOptions};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON object: result, counts, violations, warnings.
    Json,
    /// GitHub Actions workflow commands, so a pull request shows them inline.
    Github,
    /// GitHub-flavored markdown, for a job summary ($GITHUB_STEP_SUMMARY) or a pull-request comment.
    Markdown,
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
    /// Text for people, JSON for scripts, GitHub Actions annotations for a pull request, or markdown for a job
    /// summary.
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
        Format::Markdown => write_markdown(context, &report)?,
    }
    Ok(if report.holds() { ExitKind::Holds } else { ExitKind::RuleFailed })
}

/// The report for people, a line a finding, as record content wrote it:
/// each writer escapes the lines for where they go.
fn text_lines(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    lines.extend(report.warnings.iter().map(|warning| format!("warning: {warning}")));
    lines.extend(report.overrides.iter().map(|note| format!("warning: {note}")));
    lines.extend(report.violations.iter().map(ToString::to_string));
    lines.extend(report.pending.iter().map(ToString::to_string));
    let c = &report.counts;
    let overrides = match report.overrides.len() {
        0 => String::new(),
        n => format!(" ({n} break-glass override{} reported above)", plural(n)),
    };
    let pending = match c.pending {
        0 => String::new(),
        n => format!("; {n} record{} pending approval (not a failure)", plural(n)),
    };
    let summary = counts_summary(report);
    lines.push(if report.holds() {
        format!("ok: {summary}: every rule holds{overrides}{pending}")
    } else {
        format!("FAILED: {summary}: {} violation(s){pending}", report.violations.len())
    });
    lines
}

/// What was checked: records (new or changed ones, against the base), apps, signatures, policy versions.
fn counts_summary(report: &Report) -> String {
    let c = &report.counts;
    let what = match &report.base {
        Some(base) => format!("{} new or changed records against {base}", c.records),
        None => format!("{} records", c.records),
    };
    format!(
        "{what} of {} apps, {} signatures, {} policy version{}",
        c.apps,
        c.signatures,
        c.policies,
        plural(c.policies)
    )
}

fn write_text(context: &mut Context, report: &Report) -> Result<(), CommandError> {
    for line in text_lines(report) {
        say!(context, "{}", escape::terminal(&line));
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
    let text = escape::json_pretty(&value)?;
    say!(context, "{text}");
    Ok(())
}

fn write_github(context: &mut Context, report: &Report) -> Result<(), CommandError> {
    for warning in &report.warnings {
        say!(context, "::warning title=gitops-ledger::{}", escape::workflow_data(warning));
    }
    for note in &report.overrides {
        say!(
            context,
            "::warning file={},title={}::{}",
            escape::workflow_property(&note.file),
            escape::workflow_property(&format!("break-glass override ({})", note.record)),
            escape::workflow_data(&note.to_string())
        );
    }
    for note in &report.pending {
        say!(
            context,
            "::notice file={},title={}::{}",
            escape::workflow_property(&note.file),
            escape::workflow_property(&format!("pending approval ({})", note.record)),
            escape::workflow_data(&note.to_string())
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
            escape::workflow_property(&v.file),
            escape::workflow_property(&title),
            escape::workflow_data(&v.message)
        );
    }
    // The summary follows as plain log lines, which must not read as commands either.
    for line in text_lines(report) {
        say!(context, "{}", escape::workflow_line(&line));
    }
    Ok(())
}

/// A job summary or pull-request comment: the verdict as a heading, what was
/// checked, then a table each for violations, break-glass overrides and
/// pending approvals, and the warnings. Every cell is escaped markdown, so a
/// record's text shows as written and cannot add markup.
fn write_markdown(context: &mut Context, report: &Report) -> Result<(), CommandError> {
    let verdict = match (report.violations.len(), report.overrides.len()) {
        (0, 0) => "every rule holds".to_string(),
        (0, n) => format!("every rule holds, with {n} break-glass override{}", plural(n)),
        (n, _) => format!("{n} violation{}", plural(n)),
    };
    say!(context, "### gitops-ledger: {verdict}");
    let pending = match report.counts.pending {
        0 => String::new(),
        n => format!(", {n} pending"),
    };
    say!(context, "{}{pending}", escape::markdown(&counts_summary(report)));
    if !report.violations.is_empty() {
        write_table(
            context,
            None,
            &["file", "record", "rule", "what is wrong"],
            report.violations.iter().map(|v| {
                vec![v.file.clone(), v.record.clone().unwrap_or_default(), v.rule.to_string(), v.message.clone()]
            }),
        )?;
    }
    if !report.overrides.is_empty() {
        write_table(
            context,
            Some("Break-glass overrides"),
            &["file", "record", "environment", "waives", "signed by", "reason"],
            report.overrides.iter().map(|note| {
                let rules: Vec<String> = note.rules.iter().map(ToString::to_string).collect();
                vec![
                    note.file.clone(),
                    note.record.clone(),
                    note.env.clone(),
                    rules.join(", "),
                    note.signers.join(", "),
                    note.reason.clone(),
                ]
            }),
        )?;
    }
    if !report.pending.is_empty() {
        write_table(
            context,
            Some("Pending approvals (not failures)"),
            &["file", "record", "environment", "signed by", "missing"],
            report.pending.iter().map(|note| {
                vec![
                    note.file.clone(),
                    note.record.clone(),
                    note.env.clone(),
                    note.signers.join(", "),
                    note.missing.join("; "),
                ]
            }),
        )?;
    }
    if !report.warnings.is_empty() {
        say!(context, "\n#### Warnings\n");
        for warning in &report.warnings {
            say!(context, "- {}", escape::markdown(warning));
        }
    }
    Ok(())
}

/// A markdown table after a blank line (and a heading, if given), every cell escaped.
fn write_table(
    context: &mut Context,
    heading: Option<&str>,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), CommandError> {
    say!(context, "");
    if let Some(heading) = heading {
        say!(context, "#### {heading}\n");
    }
    say!(context, "| {} |", header.join(" | "));
    say!(context, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|cell| escape::markdown(cell)).collect();
        say!(context, "| {} |", cells.join(" | "));
    }
    Ok(())
}
