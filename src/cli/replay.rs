//! `replay`: every record in time order, with the verifier's verdict and the
//! state change it caused, ending with the state.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{indent, parse_at, print_status, say, Context, PrettyArray};
use super::{CliError, CommandError, ExitKind, OutputFormat};
use crate::clock::Timestamp;
use crate::escape;
use crate::history::{Merged, Order, Replayer};
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

/// Streams: the verdicts come first (verify reads chain by chain), then the
/// per-app chains merged oldest first into one fold per app, each event
/// printed as it comes; those folds give the final state.
pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let now = context.clock.now();
    let until = args.until.unwrap_or(now);
    let ledger = Ledger::load_listed(&context.tree)?;
    // The verdicts are the verifier's own, not a second implementation.
    let report = verify(&ledger, None, &VerifyOptions::default(), now)?;
    let pending: BTreeSet<&str> = report.pending.iter().map(|p| p.record.as_str()).collect();
    let mut by_record: BTreeMap<&str, Vec<&Violation>> = BTreeMap::new();
    for violation in &report.violations {
        if let Some(label) = &violation.record {
            by_record.entry(label.as_str()).or_default().push(violation);
        }
    }
    let verdict = |label: &str| match by_record.get(label) {
        Some(_) => "fail",
        None if pending.contains(label) => "pending",
        None => "ok",
    };
    let json = matches!(args.format, OutputFormat::Json);
    // As `to_string_pretty` lays out {"events": [..], "state": .., "until": ..}.
    let mut events = json.then(|| PrettyArray::new(1));
    if json {
        write!(context.out, "{{\n  \"events\": ").map_err(CliError::Output)?;
    }
    let mut replayer = Replayer::new(ledger.policies());
    for merge in Merged::new(&ledger, None, Order::OldestFirst)? {
        let file = merge?.file;
        if file.record.at > until {
            // Oldest first: every record still to come is later.
            break;
        }
        let changes = replayer.step(&file).map(|(_, changes)| changes).unwrap_or_default();
        let label = file.record.label();
        match &mut events {
            Some(array) => array.push(
                &mut context.out,
                &serde_json::json!({
                    "at": file.record.at,
                    "record": label,
                    "path": file.path,
                    "kind": file.record.kind,
                    "env": file.record.env,
                    "changes": changes,
                    "verdict": verdict(&label),
                    "violations": by_record.get(label.as_str()).cloned().unwrap_or_default(),
                }),
            )?,
            None => {
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
                    say!(context, "    {} (rule: {})", escape::terminal(&violation.message), violation.rule);
                }
            }
        }
        if context.out.closed() {
            return Ok(ExitKind::Holds);
        }
    }
    // Every record up to `until` went through the replayer, app by app in
    // chain order, so its folds are the status at `until`: no second read.
    let state = crate::status::of_views(&ledger, replayer.into_views(), until);
    match events {
        Some(array) => {
            array.finish(&mut context.out)?;
            // Through a Value, as json! took it: keys sorted.
            let state = indent(&escape::json_pretty(&serde_json::to_value(&state)?)?, "  ");
            let until = serde_json::to_string(&until)?;
            say!(context, ",\n  \"state\": {state},\n  \"until\": {until}\n}}");
        }
        None => {
            say!(context, "");
            print_status(context, &state)?;
        }
    }
    Ok(ExitKind::Holds)
}
