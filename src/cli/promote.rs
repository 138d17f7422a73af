//! `promote`: append a signed promotion (or rollback) record.

use std::io::Write;
use std::path::PathBuf;

use super::{load_key, say, CommandError, Context, ExitKind};
use crate::append::{PromoteRequest, Written};
use crate::clock::Timestamp;
use crate::record::{Image, Kind, Name, Override, Waivable};

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
    /// Break-glass: why this record waives rules (needs --override-rule and the policy's break_glass signers).
    #[arg(long, value_name = "TEXT", requires = "override_rules")]
    pub override_reason: Option<String>,
    /// Break-glass: a rule to waive (provenance, soak, freeze, evidence). Repeatable.
    #[arg(long = "override-rule", value_name = "RULE", requires = "override_reason")]
    pub override_rules: Vec<Waivable>,
    /// Do not update the overlays and versions.json (they will show as drift until `project` runs).
    #[arg(long)]
    pub no_project: bool,
    /// Make one git commit holding the new record and the projection.
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
        override_: args.override_reason.map(|reason| Override { reason, rules: args.override_rules }),
    };
    let written = crate::append::promote(&context.tree, request, &key, context.clock.now())?;
    report_written(context, &written)?;
    let record = &written.record;
    let digest = record.images.first().map_or("", |i| i.digest.short());
    let message = match record.kind {
        Kind::Rollback => format!("chore({}): rollback {} to {digest}\n", record.env, record.app),
        _ => format!("chore({}): promote {} to {digest}\n", record.env, record.app),
    };
    finish(
        context,
        &written.record.app,
        (written.path.clone(), None),
        !args.no_project,
        args.commit.then_some(message.as_str()),
    )?;
    Ok(ExitKind::Holds)
}

/// After a record was written: project (unless told not to) and commit
/// (when asked). If either fails, every file written is put back as it was,
/// so a failed command leaves the tree unchanged. `record` is the record's
/// path and its previous content (None: it is new).
pub(crate) fn finish(
    context: &mut Context,
    app: &Name,
    record: (String, Option<Vec<u8>>),
    project: bool,
    commit_message: Option<&str>,
) -> Result<(), CommandError> {
    let mut touched = vec![record];
    crate::store::crash_point("after-record");
    let outcome = project_and_commit(context, app, &mut touched, project, commit_message);
    if let Err(err) = outcome {
        let mut note = String::new();
        for (path, previous) in touched.iter().rev() {
            let restored = match previous {
                Some(bytes) => context.tree.write_atomic(path, bytes, false),
                None => std::fs::remove_file(context.tree.path(path))
                    .map_err(|source| crate::store::StoreError::Write { path: path.clone(), source }),
            };
            if let Err(undo_err) = restored {
                note.push_str(&format!("; restoring {path} failed too: {undo_err}"));
            }
        }
        if note.is_empty() {
            note = "; nothing was written".into();
        }
        return Err(CommandError { kind: err.kind, message: format!("{}{note}", err.message) });
    }
    Ok(())
}

fn project_and_commit(
    context: &mut Context,
    app: &Name,
    touched: &mut Vec<(String, Option<Vec<u8>>)>,
    project: bool,
    commit_message: Option<&str>,
) -> Result<(), CommandError> {
    if project {
        let files = crate::append::projection_for_app(&context.tree, app, context.clock.now())?;
        for file in files.iter().filter(|f| f.changes()) {
            touched.push((file.path.clone(), file.current.clone()));
        }
        for path in crate::append::write_projection(&context.tree, &files)? {
            say!(context, "projected {path}");
        }
    }
    if let Some(message) = commit_message {
        let paths: Vec<String> = touched.iter().map(|(path, _)| path.clone()).collect();
        let commit = crate::store::commit_files(context.tree.root(), &paths, message).map_err(CommandError::usage)?;
        say!(context, "committed {commit}");
    }
    Ok(())
}

/// What `promote`, `approve` and `evidence` print about the record they wrote.
pub(crate) fn report_written(context: &mut Context, written: &Written) -> Result<(), CommandError> {
    let record = &written.record;
    let from = record.from.as_ref().map_or("outside the ledger".to_string(), |f| f.to_string());
    match &record.evidence {
        Some(evidence) => say!(
            context,
            "wrote {} ({}): {} {} for what {} runs",
            written.path,
            record.label(),
            evidence.kind,
            evidence.result,
            record.env
        ),
        None => {
            say!(context, "wrote {} ({}): {} {} from {from}", written.path, record.label(), record.kind, record.env)
        }
    }
    for image in &record.images {
        say!(context, "  {image}");
    }
    if let Some(declared) = &record.override_ {
        let rules: Vec<String> = declared.rules.iter().map(ToString::to_string).collect();
        say!(
            context,
            "BREAK-GLASS: waives {} ({}); verify reports it as an override",
            rules.join(", "),
            declared.reason
        );
    }
    say!(context, "id {}", written.id);
    if written.pending.is_empty() {
        say!(context, "{}: every threshold met", record.env);
    }
    for pending in &written.pending {
        say!(
            context,
            "{} needs {} more approval{} (threshold {}): gitops-ledger approve {} --key FILE",
            pending.what,
            pending.missing,
            if pending.missing == 1 { "" } else { "s" },
            pending.threshold,
            record.label()
        );
    }
    Ok(())
}
