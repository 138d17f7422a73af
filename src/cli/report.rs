//! `report --out FILE.html`: the auditor's timeline, one self-contained file.

use std::io::Write;
use std::path::PathBuf;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context};
use super::{CliError, CommandError, ExitKind, Window};
use crate::history::{dora_by_app, in_time_order};
use crate::ledger::Ledger;
use crate::record::Name;
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
    /// Only this app (default: every app).
    #[arg(long, value_name = "APP")]
    pub app: Option<Name>,
    // Records, deployments and figures within the window; each app's state
    // is still folded from its first record.
    #[command(flatten)]
    pub window: Window,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let now = context.clock.now();
    let ledger = Ledger::load(&context.tree)?;
    let production =
        ledger.production().cloned().ok_or_else(|| CommandError::usage("there is no policy to report on"))?;
    let chains = ledger.chains(args.app.as_ref())?;
    let records = in_time_order(&chains);
    let verification = verify(&ledger, None, &VerifyOptions::default(), now)?;
    let (since, until) = (args.window.since, args.window.until);
    let (overall, per_app) = dora_by_app(&chains, ledger.policies(), &production, since, until);
    let html = render(&ReportInput {
        generated: now,
        environments: &ledger.environments(),
        records: &records,
        since,
        until,
        policies: ledger.policies(),
        verification: &verification,
        overall: &overall,
        per_app: &per_app,
    });
    std::fs::write(&args.out, html)
        .map_err(|source| CliError::Write { path: args.out.display().to_string(), source })?;
    let shown =
        records.iter().filter(|r| since.is_none_or(|s| r.record.at >= s) && until.is_none_or(|u| r.record.at <= u));
    say!(context, "wrote {} ({} records of {} apps)", args.out.display(), shown.count(), per_app.len());
    Ok(ExitKind::Holds)
}
