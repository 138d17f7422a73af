//! `promote`: append a signed promotion (or rollback) record.

use std::io::Write;
use std::path::PathBuf;

use super::{load_key, say, CommandError, Context, ExitKind};
use crate::append::{PromoteRequest, Written};
use crate::clock::Timestamp;
use crate::record::{Image, Kind, Name};

/// Append a signed promotion record; without --image, promote what the upstream environment runs.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app, as named under promotions/apps/.
    #[arg(long, value_name = "APP")]
    pub app: String,
    /// The environment to promote into, as named in the policy.
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// Image to set, by digest: NAME@sha256:HEX, optionally =TAG as a label. Repeatable.
    #[arg(long = "image", value_name = "NAME@sha256:HEX[=TAG]", value_parser = Image::parse_cli)]
    pub images: Vec<Image>,
    /// OpenSSH ed25519 private key (encrypted keys read GITOPS_LEDGER_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Policy name of the signer; default: the name whose key matches --key.
    #[arg(long, value_name = "NAME")]
    pub signer: Option<Name>,
    /// Why, in words for the reviewer and the auditor.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The record's time (default: now), RFC 3339 UTC with whole seconds.
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub at: Option<Timestamp>,
    /// Return the environment to a digest it ran before (needs --image).
    #[arg(long)]
    pub rollback: bool,
    /// Make one git commit holding the new record.
    #[arg(long)]
    pub commit: bool,
}

pub(crate) fn parse_at(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| e.to_string())
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    // A name outside the syntax would make a path outside promotions/apps/: a
    // broken rule of the ledger (exit 1), like every other refusal to append.
    let name = |flag: &str, text: &str| {
        Name::parse(text)
            .map_err(|e| CommandError::rule(format!("refused, nothing was written: {flag}: {e} (rule: schema)")))
    };
    let app = name("--app", &args.app)?;
    let env = name("--env", &args.env)?;
    let key = load_key(&args.key)?;
    let request = PromoteRequest {
        app,
        env,
        images: args.images,
        signer: args.signer,
        reason: args.reason,
        at: args.at,
        rollback: args.rollback,
    };
    let written = crate::append::promote(&context.tree, request, &key, context.clock.now())?;
    report_written(context, &written)?;
    if args.commit {
        let record = &written.record;
        let verb = match record.kind {
            Kind::Promote => "promote",
            Kind::Rollback => "rollback",
        };
        let digest = record.images.first().map_or("", |i| i.digest.short());
        let message = format!("chore({}): {verb} {} to {digest}\n", record.env, record.app);
        commit_or_undo(context, &written.path, &message, None)?;
    }
    Ok(ExitKind::Holds)
}

/// What `promote` and `approve` print about the record they wrote.
pub(crate) fn report_written(context: &mut Context, written: &Written) -> Result<(), CommandError> {
    let record = &written.record;
    say!(
        context,
        "wrote {} ({}): {} {} from {}",
        written.path,
        record.label(),
        record.kind,
        record.env,
        record.from.as_ref().map_or("outside the ledger", |f| f.as_str())
    );
    for image in &record.images {
        say!(context, "  {image}");
    }
    say!(context, "id {}", written.id);
    if written.missing_approvals == 0 {
        say!(context, "{}: threshold of {} met", record.env, written.threshold);
    } else {
        say!(
            context,
            "{} needs {} more approval{} (threshold {}): gitops-ledger approve {} --key FILE",
            written.record.env,
            written.missing_approvals,
            if written.missing_approvals == 1 { "" } else { "s" },
            written.threshold,
            written.record.label()
        );
    }
    Ok(())
}

/// Commits `path`; if that fails, puts the file back as it was (`previous`
/// content, or removed) so a failed command leaves the tree unchanged.
pub(crate) fn commit_or_undo(
    context: &mut Context,
    path: &str,
    message: &str,
    previous: Option<Vec<u8>>,
) -> Result<(), CommandError> {
    match crate::store::commit_files(context.tree.root(), &[path.to_string()], message) {
        Ok(commit) => {
            say!(context, "committed {commit}");
            Ok(())
        }
        Err(err) => {
            let undo = match previous {
                Some(bytes) => context.tree.write_atomic(path, &bytes, false),
                None => std::fs::remove_file(context.tree.path(path))
                    .map_err(|source| crate::store::StoreError::Write { path: path.to_string(), source }),
            };
            let note = match undo {
                Ok(()) => format!("{path} was left as it was"),
                Err(undo_err) => format!("and restoring {path} failed too: {undo_err}"),
            };
            Err(CommandError::usage(format!("{err}; {note}")))
        }
    }
}
