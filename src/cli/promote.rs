//! `promote`: append a signed promotion (or rollback) record.

use super::exit_codes::{self, ExitCodes};
use super::util::{parse_at, report_applied, report_written, write_change, Context, SigningArgs, WriteArgs};
use super::{CommandError, ExitKind};
use crate::append::{Promote, PromoteRequest};
use crate::clock::Timestamp;
use crate::record::{Image, Name, Override, Waivable};

const EXIT_CODES: ExitCodes = &[
    (0, "written (approvals may still be pending)"),
    (
        1,
        "refused by a rule, nothing written (names file, record and rule), also when there is no signed policy \
         yet; or another gitops-ledger command holds the write lock",
    ),
    (
        2,
        "usage or I/O error (bad flag or name, unreadable key, a key the policy does not name, --commit outside \
         a git repo)",
    ),
];

/// Append a signed promotion record; without --image, promote what the upstream environment runs.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// The app, as named under promotions/apps/.
    #[arg(long, value_name = "APP")]
    pub app: Name,
    /// The environment to promote into, as named in the policy.
    #[arg(long, value_name = "ENV")]
    pub env: Name,
    /// Image to set, by digest: NAME@sha256:HEX, optionally =TAG as a label. Repeatable.
    #[arg(long = "image", value_name = "NAME@sha256:HEX[=TAG]", value_parser = Image::parse_cli)]
    pub images: Vec<Image>,
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Why, in words for the reviewer and the auditor.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The record's time (default: now), RFC 3339 UTC with whole seconds.
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub at: Option<Timestamp>,
    /// Return the environment to a digest it ran before (needs --image).
    #[arg(long)]
    pub rollback: bool,
    /// Break-glass: why this record waives rules (needs --override-rule and the policy's break_glass signers).
    #[arg(long, value_name = "TEXT", requires = "override_rules")]
    pub override_reason: Option<String>,
    /// Break-glass: a rule to waive (provenance, soak, freeze, evidence). Repeatable.
    #[arg(long = "override-rule", value_name = "RULE", requires = "override_reason")]
    pub override_rules: Vec<Waivable>,
    #[command(flatten)]
    pub write: WriteArgs,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let key = args.signing.load_key()?;
    let request = PromoteRequest {
        app: args.app,
        env: args.env,
        images: args.images,
        signer: args.signing.signer,
        reason: args.reason,
        at: args.at,
        rollback: args.rollback,
        override_: args.override_reason.map(|reason| Override { reason, rules: args.override_rules }),
    };
    let options = args.write.options();
    let Some(applied) = write_change(context, &Promote { request, key: &key }, &options)? else {
        return Ok(ExitKind::Holds);
    };
    report_written(context, &applied.outcome)?;
    report_applied(context, &applied)?;
    Ok(ExitKind::Holds)
}
