//! `project [--check]`: write (or check) the policy's target files and versions.json.

use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context};
use super::{CliError, CommandError, ExitKind};
use crate::append::{projection, Transaction};
use crate::fold_cache::FoldCache;
use crate::ledger::Ledger;

const EXIT_CODES: ExitCodes = &[
    (0, "the projected files match the ledger (written, or with --check already matching)"),
    (
        1,
        "with --check: drift (the diff is printed); refused, nothing written: no signed policy (or one that \
         does not verify), a target file it cannot or may not edit (missing, through a symlink, two writers of one entry), or another gitops-ledger command holds the \
         write lock",
    ),
    (2, "usage or I/O error (bad flag, a projected file that is not a regular file or cannot be written)"),
];

/// Write the image values of every target file (overlays, image: fields, values keys) and versions.json; --check: only show the diff.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// Write nothing; print a unified diff of what would change and exit 1 if anything would.
    #[arg(long)]
    pub check: bool,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let now = context.clock.now();
    if !args.check {
        let files = Transaction::begin(&context.tree)?.project_all(now)?;
        let written: Vec<_> = files.iter().filter(|f| f.changes()).collect();
        for file in &written {
            say!(context, "wrote {}", file.path);
        }
        if written.is_empty() {
            say!(context, "ok: {} projected files already match the ledger", files.len());
        }
        return Ok(ExitKind::Holds);
    }
    let ledger = Ledger::load_listed(&context.tree)?;
    let cache = FoldCache::open(&context.tree, ledger.policies());
    let files = projection(&ledger, now, cache.as_ref())?;
    let changed: Vec<_> = files.iter().filter(|f| f.changes()).collect();
    for file in &changed {
        let before = String::from_utf8_lossy(file.current.as_deref().unwrap_or_default()).into_owned();
        let after = String::from_utf8_lossy(&file.projected).into_owned();
        let diff = similar::TextDiff::from_lines(&before, &after);
        let old_header = if file.current.is_some() { format!("a/{}", file.path) } else { "/dev/null".into() };
        write!(
            context.out,
            "{}",
            diff.unified_diff().context_radius(3).header(&old_header, &format!("b/{}", file.path))
        )
        .map_err(CliError::Output)?;
    }
    if changed.is_empty() {
        say!(context, "ok: {} projected files match the ledger", files.len());
        return Ok(ExitKind::Holds);
    }
    say!(
        context,
        "drift: {} of {} projected files differ from the ledger; `gitops-ledger project` rewrites them",
        changed.len(),
        files.len()
    );
    Ok(ExitKind::RuleFailed)
}
