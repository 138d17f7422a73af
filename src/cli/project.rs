//! `project [--check]`: write (or check) the overlays' images and versions.json.

use std::io::Write;

use super::{say, CommandError, Context, ExitKind};

/// Write each overlay's images entries and versions.json from the ledger; --check: only show the diff.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write nothing; print a unified diff of what would change and exit 1 if anything would.
    #[arg(long)]
    pub check: bool,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let files = crate::append::projection(&context.tree, context.clock.now())?;
    let changed: Vec<_> = files.iter().filter(|f| f.changes()).collect();
    if args.check {
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
            .map_err(CommandError::io)?;
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
        return Ok(ExitKind::RuleFailed);
    }
    let written = crate::append::write_projection(&context.tree, &files)?;
    for path in &written {
        say!(context, "wrote {path}");
    }
    if written.is_empty() {
        say!(context, "ok: {} projected files already match the ledger", files.len());
    }
    Ok(ExitKind::Holds)
}
