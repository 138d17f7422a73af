//! `approve A@SEQ`: add an approval signature to the newest record of an app.

use super::exit_codes::{self, ExitCodes};
use super::util::{report_applied, report_written, write_change, Context, SigningArgs, WriteArgs};
use super::{CommandError, ExitKind};
use crate::append::Approve;
use crate::record::Name;

const EXIT_CODES: ExitCodes = &[
    (0, "signature added (more approvals may still be pending)"),
    (
        1,
        "refused by a rule, nothing written (the record is not the newest, this signer already signed, a broken \
         chain, no signed policy); or another gitops-ledger command holds the write lock",
    ),
    (2, "usage or I/O error (no such record, unreadable key, a key the policy does not name)"),
];

/// Add your signature to the newest record of an app (an approval).
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// The record to approve, as app@seq (e.g. api-service@7).
    #[arg(value_name = "APP@SEQ", value_parser = parse_target)]
    pub target: (Name, u64),
    #[command(flatten)]
    pub signing: SigningArgs,
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
    let change = Approve { app, seq, key: &key, signer: args.signing.signer };
    let options = args.write.options();
    let applied = write_change(context, &change, options)?;
    report_written(context, &applied.outcome)?;
    report_applied(context, &applied)?;
    Ok(ExitKind::Holds)
}
