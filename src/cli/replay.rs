//! `replay`: every record in time order, with the verifier's verdict and the
//! state change it caused, ending with the state.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{parse_at, print_status, say, Context};
use super::{CommandError, ExitKind, OutputFormat};
use crate::clock::Timestamp;
use crate::history::in_time_order;
use crate::ledger::Ledger;
use crate::rules::Violation;
use crate::verify::{verify, VerifyOptions};

const EXIT_CODES: ExitCodes = &[
    (0, "replayed; a record that breaks a rule is marked fail, not an exit code (verify is the check)"),
    (2, "usage or I/O error (bad flag or --until, a ledger file that cannot be read)"),
];

/// Replay the ledger event by event: what each record changed, and whether it holds.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// Stop after this moment (default: replay everything).
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub until: Option<Timestamp>,
    /// Text for people, or one JSON object (the events and the final state) for scripts.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let now = context.clock.now();
    let until = args.until.unwrap_or(now);
    let ledger = Ledger::load(&context.tree)?;
    let chains = ledger.chains(None)?;
    // The verdicts are the verifier's own, not a second implementation.
    let report = verify(&ledger, Some(&chains), &VerifyOptions::default(), now)?;
    let pending: BTreeSet<&str> = report.pending.iter().map(|p| p.record.as_str()).collect();
    let mut by_record: BTreeMap<&str, Vec<&Violation>> = BTreeMap::new();
    for violation in &report.violations {
        if let Some(label) = &violation.record {
            by_record.entry(label.as_str()).or_default().push(violation);
        }
    }
    let mut records = in_time_order(&chains);
    records.retain(|r| r.record.at <= until);
    let steps = crate::history::replay(&records, ledger.policies());
    let state = crate::status::status(&ledger, Some(&chains), until)?;
    let verdict = |label: &str| match by_record.get(label) {
        Some(_) => "fail",
        None if pending.contains(label) => "pending",
        None => "ok",
    };
    match args.format {
        OutputFormat::Json => {
            let events: Vec<serde_json::Value> = records
                .iter()
                .zip(&steps)
                .map(|(file, step)| {
                    let label = file.record.label();
                    serde_json::json!({
                        "at": file.record.at,
                        "record": label,
                        "path": file.path,
                        "kind": file.record.kind,
                        "env": file.record.env,
                        "changes": step.changes,
                        "verdict": verdict(&label),
                        "violations": by_record.get(label.as_str()).cloned().unwrap_or_default(),
                    })
                })
                .collect();
            let text =
                serde_json::to_string_pretty(&serde_json::json!({"until": until, "events": events, "state": state}))?;
            say!(context, "{text}");
        }
        OutputFormat::Text => {
            for (file, step) in records.iter().zip(&steps) {
                let changes = &step.changes;
                let label = file.record.label();
                let what = if changes.is_empty() {
                    match &file.record.evidence {
                        Some(e) => format!("{} {} for what {} runs", e.kind, e.result, file.record.env),
                        None => format!("{}: no change", file.record.env),
                    }
                } else {
                    changes
                        .iter()
                        .map(|c| {
                            let from = c.from.as_deref().map_or("none".to_string(), |d| d.chars().take(19).collect());
                            format!(
                                "{}: {} {from} -> {}",
                                file.record.env,
                                c.image,
                                c.to.chars().take(19).collect::<String>()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                say!(
                    context,
                    "{}  {:<16} {:<8} {what}  [{}]",
                    file.record.at,
                    label,
                    file.record.kind.to_string(),
                    verdict(&label)
                );
                for violation in by_record.get(label.as_str()).into_iter().flatten() {
                    say!(context, "    {} (rule: {})", violation.message, violation.rule);
                }
            }
            say!(context, "");
            print_status(context, &state)?;
        }
    }
    Ok(ExitKind::Holds)
}
