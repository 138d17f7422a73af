//! `log`: the promotions, newest first.

use std::io::Write;

use super::promote::parse_at;
use super::{say, CommandError, Context, ExitKind};
use crate::clock::Timestamp;
use crate::record::Name;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The history of promotions, rollbacks and evidence, newest first.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_name = "APP")]
    pub app: Option<Name>,
    #[arg(long, value_name = "ENV")]
    pub env: Option<Name>,
    /// Only records at or after this moment.
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub since: Option<Timestamp>,
    /// Only records at or before this moment.
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub until: Option<Timestamp>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let mut records = crate::history::all_records(&context.tree, args.app.as_ref()).map_err(CommandError::usage)?;
    records.retain(|r| {
        args.env.as_ref().is_none_or(|e| &r.record.env == e)
            && args.since.is_none_or(|s| r.record.at >= s)
            && args.until.is_none_or(|u| r.record.at <= u)
    });
    records.reverse();
    match args.format {
        Format::Json => {
            let entries: Vec<serde_json::Value> =
                records.iter().map(|r| serde_json::json!({"path": r.path, "id": r.id, "record": r.record})).collect();
            let text = serde_json::to_string_pretty(&entries).map_err(CommandError::usage)?;
            say!(context, "{text}");
        }
        Format::Text => {
            for file in &records {
                say!(context, "{}", line(file));
            }
        }
    }
    Ok(ExitKind::Holds)
}

/// `time  app@seq  env  kind  digest  tag  signers`, one record a line.
pub(crate) fn line(file: &crate::ledger::RecordFile) -> String {
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
