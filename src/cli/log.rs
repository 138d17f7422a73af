//! `log`: the promotions, newest first.

use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context, PrettyArray};
use super::{CommandError, ExitKind, OutputFormat, Window};
use crate::history::{Merged, Order};
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

/// Streams: the per-app chains merged from their tips (see [`Merged`]), each
/// record printed as it comes, stopping when the reader goes away, so
/// `log | head` reads little more than the tip of each chain.
pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let ledger = Ledger::load_listed(&context.tree)?;
    let mut merged = Merged::new(&ledger, args.app.as_ref(), Order::NewestFirst)?;
    let mut json = matches!(args.format, OutputFormat::Json).then(|| PrettyArray::new(0));
    while let Some(merge) = merged.next() {
        let merge = merge?;
        let record = &merge.file.record;
        if args.window.since.is_some_and(|s| record.at < s) {
            // Newest first: every record still to come is older.
            break;
        }
        if args.window.until.is_some_and(|u| record.at > u) || args.env.as_ref().is_some_and(|e| &record.env != e) {
            continue;
        }
        let fate = merged.fate(&merge)?;
        let file = &merge.file;
        match &mut json {
            Some(array) => array.push(
                &mut context.out,
                &serde_json::json!({"path": file.path, "id": file.id, "record": file.record, "fate": fate}),
            )?,
            None => {
                let note = fate.map_or(String::new(), |e| format!("  [{e}]"));
                say!(context, "{}{note}", line(file));
            }
        }
        if context.out.closed() {
            break;
        }
    }
    if let Some(array) = json {
        array.finish(&mut context.out)?;
        say!(context, "");
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
