//! `evidence`: sign a check result (smoke test, scan) for what an environment runs now.

use std::path::PathBuf;

use sha2::Digest as _;

use super::exit_codes::{self, ExitCodes};
use super::util::{parse_at, read_file, report_applied, report_written, write_change, Context, SigningArgs, WriteArgs};
use super::{CommandError, ExitKind};
use crate::append::{AddEvidence, EvidenceRequest};
use crate::clock::Timestamp;
use crate::record::{Evidence, EvidenceResult, Name};

const EXIT_CODES: ExitCodes = &[
    (0, "written"),
    (
        1,
        "refused by a rule, nothing written (the environment runs nothing of the app yet, a signer outside its \
         evidence_signers, no signed policy); or another gitops-ledger command holds the write lock",
    ),
    (2, "usage or I/O error (bad flag or name, unreadable key or --report, a key the policy does not name)"),
];

/// Append signed evidence (a check's pass or fail) for the images an environment runs now.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// The app, as named under promotions/apps/.
    #[arg(long, value_name = "APP")]
    pub app: Name,
    /// The environment whose running images the evidence is about.
    #[arg(long, value_name = "ENV")]
    pub env: Name,
    /// The evidence type, e.g. smoke-test, image-scan, sast (the policy's `requires` names them).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Name,
    /// Whether the check passed or failed.
    #[arg(long, value_enum)]
    pub result: ResultArg,
    /// Where the report lives, e.g. the CI run.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The report itself: its SHA-256 goes into the record.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The record's time (default: now), RFC 3339 UTC with whole seconds.
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub at: Option<Timestamp>,
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ResultArg {
    /// The check passed.
    Pass,
    /// The check failed: a required type blocks promotion until a later pass.
    Fail,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let key = args.signing.load_key()?;
    let sha256 = match &args.report {
        Some(path) => Some(sha2::Sha256::digest(read_file(path)?).iter().map(|b| format!("{b:02x}")).collect()),
        None => None,
    };
    let result = match args.result {
        ResultArg::Pass => EvidenceResult::Pass,
        ResultArg::Fail => EvidenceResult::Fail,
    };
    let request = EvidenceRequest {
        app: args.app,
        env: args.env,
        evidence: Evidence { kind: args.kind, result, url: args.url, sha256 },
        signer: args.signing.signer,
        at: args.at,
    };
    let options = args.write.options();
    let change = AddEvidence { request, key: &key, expected: None };
    let Some(applied) = write_change(context, &change, &options)? else { return Ok(ExitKind::Holds) };
    report_written(context, &applied.outcome)?;
    report_applied(context, &applied)?;
    Ok(ExitKind::Holds)
}
