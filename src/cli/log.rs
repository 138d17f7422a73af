//! `log`: the promotions, newest first.

use std::collections::BTreeMap;
use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context};
use super::{CommandError, ExitKind, OutputFormat, Window};
use crate::chain::AppHistory;
use crate::history::in_time_order;
use crate::ledger::{Ledger, RecordFile};
use crate::record::Name;

const EXIT_CODES: ExitCodes = &[
    (0, "shown, also when nothing matches or the reader stops early (`log | head`)"),
    (2, "usage or I/O error (bad flag, name or time, a ledger file that cannot be read)"),
];

/// The history of promotions, rollbacks and evidence, newest first.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// Only this app's records (default: every app).
    #[arg(long, value_name = "APP")]
    pub app: Option<Name>,
    /// Only records about this environment (default: every environment).
    #[arg(long, value_name = "ENV")]
    pub env: Option<Name>,
    #[command(flatten)]
    pub window: Window,
    /// One line a record for people, or a JSON array of the records for scripts.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let ledger = Ledger::load(&context.tree)?;
    let chains = ledger.chains(args.app.as_ref())?;
    let mut records = in_time_order(&chains);
    records.retain(|r| {
        args.env.as_ref().is_none_or(|e| &r.record.env == e)
            && args.window.since.is_none_or(|s| r.record.at >= s)
            && args.window.until.is_none_or(|u| r.record.at <= u)
    });
    records.reverse();
    let folds: BTreeMap<&Name, AppHistory> = chains.iter().map(|c| (&c.app, c.fold(ledger.policies()))).collect();
    let fate = |file: &RecordFile| folds.get(&file.record.app).and_then(|history| history.fate(file));
    match args.format {
        OutputFormat::Json => {
            let entries: Vec<serde_json::Value> = records
                .iter()
                .map(|r| serde_json::json!({"path": r.path, "id": r.id, "record": r.record, "fate": fate(r)}))
                .collect();
            let text = serde_json::to_string_pretty(&entries)?;
            say!(context, "{text}");
        }
        OutputFormat::Text => {
            for file in &records {
                let note = fate(file).map_or(String::new(), |e| format!("  [{e}]"));
                say!(context, "{}{note}", line(file));
            }
        }
    }
    Ok(ExitKind::Holds)
}

/// `time  app@seq  env  kind  digest  tag  signers`, one record a line.
fn line(file: &RecordFile) -> String {
    let record = &file.record;
    let first = record.images.first();
    let digest = first.map_or("-", |i| i.digest.short());
    let more = if record.images.len() > 1 { format!(" (+{} images)", record.images.len() - 1) } else { String::new() };
    let tag = first.and_then(|i| i.tag.as_ref()).map_or("-".to_string(), ToString::to_string);
    let kind = match &record.evidence {
        Some(evidence) => format!("{}={}", evidence.kind, evidence.result),
        None if record.override_.is_some() => format!("{} BREAK-GLASS", record.kind),
        None => record.kind.to_string(),
    };
    let signers: Vec<&str> = record.signatures.iter().map(|s| s.signer.as_str()).collect();
    format!(
        "{}  {:<16} {:<12} {:<20} {digest}{more}  {tag}  {}",
        record.at,
        record.label(),
        record.env.as_str(),
        kind,
        signers.join(",")
    )
}
