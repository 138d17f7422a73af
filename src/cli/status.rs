//! `status [--at T]`: what each environment runs (at a moment), and its evidence.

use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{parse_at, print_status, say, Context};
use super::{CommandError, ExitKind, OutputFormat};
use crate::clock::Timestamp;
use crate::escape;
use crate::fold_cache::FoldCache;
use crate::ledger::Ledger;

const EXIT_CODES: ExitCodes =
    &[(0, "shown"), (2, "usage or I/O error (bad flag or --at, a ledger file that cannot be read)")];

/// Show what each app runs in each environment (now, or --at a moment), with the record and evidence behind it.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// The moment to look at (default: now), RFC 3339 UTC with whole seconds.
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub at: Option<Timestamp>,
    /// A table for people, or JSON for scripts.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let at = args.at.unwrap_or(context.clock.now());
    let ledger = Ledger::load_listed(&context.tree)?;
    let cache = FoldCache::open(&context.tree, ledger.policies());
    let status = crate::status::status(&ledger, cache.as_ref(), at)?;
    match args.format {
        OutputFormat::Json => {
            let text = escape::json_pretty(&status)?;
            say!(context, "{text}");
        }
        OutputFormat::Text => print_status(context, &status)?,
    }
    Ok(ExitKind::Holds)
}
