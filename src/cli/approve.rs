//! `approve A@SEQ`: add an approval signature to the newest record of an app.

use std::path::PathBuf;

use super::promote::{finish, report_written};
use super::{load_key, CommandError, Context, ExitKind};
use crate::record::Name;

/// Add your signature to the newest record of an app (an approval).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The record to approve, as app@seq (e.g. api-service@7).
    #[arg(value_name = "APP@SEQ", value_parser = parse_target)]
    pub target: (Name, u64),
    /// OpenSSH ed25519 private key (encrypted keys read GITOPS_LEDGER_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Policy name of the signer; default: the name whose key matches --key.
    #[arg(long, value_name = "NAME")]
    pub signer: Option<Name>,
    /// Do not update the overlays and versions.json (they will show as drift until `project` runs).
    #[arg(long)]
    pub no_project: bool,
    /// Make one git commit holding the approved record and the projection.
    #[arg(long)]
    pub commit: bool,
}

fn parse_target(text: &str) -> Result<(Name, u64), String> {
    let (app, seq) = text.split_once('@').ok_or("write APP@SEQ, like api-service@7")?;
    let app = Name::parse(app).map_err(|e| e.to_string())?;
    let seq =
        seq.parse().map_err(|_| format!("`{seq}` is not a sequence number; write APP@SEQ, like api-service@7"))?;
    Ok((app, seq))
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let key = load_key(&args.key)?;
    let (app, seq) = args.target;
    let before = std::fs::read(context.tree.path(&crate::record::record_path(&app, seq))).ok();
    let written = crate::append::approve(&context.tree, &app, seq, &key, args.signer, context.clock.now())?;
    report_written(context, &written)?;
    let signer = written.record.signatures.last().map_or("", |s| s.signer.as_str());
    let message = format!("chore({}): approve {} ({signer})\n", written.record.env, written.record.label());
    finish(context, &app, (written.path.clone(), before), !args.no_project, args.commit.then_some(message.as_str()))?;
    Ok(ExitKind::Holds)
}
