//! `report --out FILE.html`: the auditor's timeline, one self-contained file.

use std::io::Write;
use std::path::PathBuf;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context};
use super::{CliError, CommandError, ExitKind, Window};
use rayon::prelude::*;

use crate::clock::Timestamp;
use crate::history::{dora_by_app, in_time_order, Figures};
use crate::ledger::Ledger;
use crate::record::Name;
use crate::report::{app_section, head as head_html, AppPart, ReportHead, TAIL};
use crate::store::StoreError;
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

/// Streams: the figures are tallied one chain at a time, then each app's
/// section is rendered from its chain, a few apps at a time, and written
/// before the next are read, so memory holds a few chains, not the ledger.
pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let now = context.clock.now();
    let ledger = Ledger::load(&context.tree)?;
    let production =
        ledger.production().cloned().ok_or_else(|| CommandError::usage("there is no policy to report on"))?;
    let verification = verify(&ledger, None, &VerifyOptions::default(), now)?;
    let (since, until) = (args.window.since, args.window.until);
    let figures = dora_by_app(&ledger, args.app.as_ref(), &production, since, until)?;
    let records: usize = figures.shown.values().sum();
    let head = ReportHead {
        generated: now,
        records,
        apps: figures.shown.len(),
        since,
        until,
        verification: &verification,
        overall: &figures.overall,
    };
    let write_error = |source| CliError::Write { path: args.out.display().to_string(), source };
    let mut file = std::io::BufWriter::new(std::fs::File::create(&args.out).map_err(write_error)?);
    let written = write_sections(&mut file, &ledger, &figures, since, until, &head_html(&head), &write_error)
        .and_then(|()| file.flush().map_err(|e| write_error(e).into()));
    if written.is_err() {
        // Half a report would read as a whole one with fewer apps.
        drop(file);
        let _ = std::fs::remove_file(&args.out);
    }
    written?;
    say!(context, "wrote {} ({records} records of {} apps)", args.out.display(), figures.apps.len());
    Ok(ExitKind::Holds)
}

/// The head, each app's section with its records shown, and the tail.
fn write_sections(
    out: &mut impl Write,
    ledger: &Ledger,
    figures: &Figures,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    head: &str,
    write_error: &dyn Fn(std::io::Error) -> CliError,
) -> Result<(), CommandError> {
    out.write_all(head.as_bytes()).map_err(write_error)?;
    let environments = ledger.environments();
    let apps: Vec<&Name> = figures.shown.keys().collect();
    for batch in apps.chunks(rayon::current_num_threads().max(1)) {
        let sections: Vec<Option<String>> = batch
            .par_iter()
            .map(|app| {
                let chain = ledger.chain(app)?;
                let records = in_time_order(std::slice::from_ref(&chain));
                Ok(app_section(&AppPart {
                    environments: &environments,
                    records: &records,
                    since,
                    until,
                    policies: ledger.policies(),
                    figures: figures.apps.get(*app),
                }))
            })
            .collect::<Result<_, StoreError>>()?;
        for section in sections.into_iter().flatten() {
            out.write_all(section.as_bytes()).map_err(write_error)?;
        }
    }
    out.write_all(TAIL.as_bytes()).map_err(write_error)?;
    Ok(())
}
