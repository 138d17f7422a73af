//! `report --out FILE.html`: the auditor's timeline, one self-contained file.

use std::io::Write;
use std::path::PathBuf;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context};
use super::{CliError, CommandError, ExitKind};
use crate::history::{dora_by_app, in_time_order};
use crate::ledger::Ledger;
use crate::report::{render, ReportInput};
use crate::verify::{verify, VerifyOptions};

const EXIT_CODES: ExitCodes = &[
    (0, "wrote the file; failed rules are shown in it, not in the exit code (verify is the check)"),
    (2, "usage or I/O error (no policy yet, cannot write --out, a ledger file that cannot be read)"),
];

/// Write an HTML timeline for auditors: what ran where, who signed, evidence, overrides, figures, verification.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// The HTML file to write.
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let now = context.clock.now();
    let ledger = Ledger::load(&context.tree)?;
    let production =
        ledger.production().cloned().ok_or_else(|| CommandError::usage("there is no policy to report on"))?;
    let chains = ledger.chains(None)?;
    let records = in_time_order(&chains);
    let verification = verify(&ledger, Some(&chains), &VerifyOptions::default(), now)?;
    let (overall, per_app) = dora_by_app(&chains, ledger.policies(), &production, None, None);
    let html = render(&ReportInput {
        generated: now,
        environments: &ledger.environments(),
        records: &records,
        policies: ledger.policies(),
        verification: &verification,
        overall: &overall,
        per_app: &per_app,
    });
    std::fs::write(&args.out, html)
        .map_err(|source| CliError::Write { path: args.out.display().to_string(), source })?;
    say!(context, "wrote {} ({} records of {} apps)", args.out.display(), records.len(), per_app.len());
    Ok(ExitKind::Holds)
}
