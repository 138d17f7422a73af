//! `approve A@SEQ`: append an approval record for a promotion or rollback that waits for signatures.

use super::exit_codes::{self, ExitCodes};
use super::util::{parse_at, report_applied, report_written, write_change, Context, SigningArgs, WriteArgs};
use super::{CommandError, ExitKind};
use crate::append::Approve;
use crate::clock::Timestamp;
use crate::record::Name;

const EXIT_CODES: ExitCodes = &[
    (0, "approval record written (the record takes effect now, or still needs more approvals)"),
    (
        1,
        "refused by a rule, nothing written (the record is complete or superseded, this signer already signed it, \
         a rule fails at this moment, a broken chain, no signed policy); or another gitops-ledger command holds the \
         write lock",
    ),
    (2, "usage or I/O error (no such record, unreadable key, a key the policy does not name)"),
];

/// Approve a promotion or rollback still waiting for signatures: appends an approval record.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// The record to approve, as app@seq (e.g. api-service@7).
    #[arg(value_name = "APP@SEQ", value_parser = parse_target)]
    pub target: (Name, u64),
    #[command(flatten)]
    pub signing: SigningArgs,
    /// The approval record's time (default: now), RFC 3339 UTC with whole seconds.
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub at: Option<Timestamp>,
    #[command(flatten)]
    pub write: WriteArgs,
}

fn parse_target(text: &str) -> Result<(Name, u64), String> {
    let (app, seq) = text.split_once('@').ok_or("write APP@SEQ, like api-service@7")?;
    let app = Name::parse(app).map_err(|e| e.to_string())?;
    let seq =
        seq.parse().map_err(|_| format!("`{seq}` is not a sequence number; write APP@SEQ, like api-service@7"))?;
    Ok((app, seq))
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let key = args.signing.load_key()?;
    let (app, seq) = args.target;
    let change = Approve { app, seq, key: &key, signer: args.signing.signer, at: args.at };
    let options = args.write.options();
    let Some(applied) = write_change(context, &change, &options)? else { return Ok(ExitKind::Holds) };
    report_written(context, &applied.outcome)?;
    report_applied(context, &applied)?;
    Ok(ExitKind::Holds)
}
