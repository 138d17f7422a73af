//! `init`: the unsigned policy version 1 template.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use super::exit_codes::{self, ExitCodes};
use super::util::{read_file, say, write_change, Context};
use super::{CommandError, ExitKind};
use crate::append::{Init, WriteOptions};
use crate::record::Name;
use crate::sign::PolicyKey;

const EXIT_CODES: ExitCodes = &[
    (0, "wrote the unsigned policy version 1"),
    (1, "another gitops-ledger command holds the write lock; nothing written"),
    (
        2,
        "usage or I/O error (a policy already exists, --ci without its --key, a --target that is not a path \
         template inside the repo, a key file that cannot be read or holds no public key)",
    ),
];

/// Write an unsigned policy version 1 (dev → staging → production) to edit and sign.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// A signer and their public key file, e.g. alice=keys/alice.pub. Repeat for each signer.
    #[arg(long = "key", value_name = "NAME=FILE.pub", value_parser = parse_key_arg)]
    pub keys: Vec<(Name, PathBuf)>,
    /// Signers that are CI bots: they sign dev only, and are never root.
    #[arg(long = "ci", value_name = "NAME")]
    pub ci: Vec<Name>,
    /// A kustomization the projection writes, as a path template with {env} and optionally {app},
    /// e.g. env/{env}/kustomization.yaml. Repeat for each. Default: apps/{app}/overlays/{env}/kustomization.yaml.
    #[arg(long = "target", value_name = "TEMPLATE")]
    pub targets: Vec<String>,
}

fn parse_key_arg(text: &str) -> Result<(Name, PathBuf), String> {
    let (name, file) = text.split_once('=').ok_or("write NAME=FILE.pub")?;
    Ok((Name::parse(name).map_err(|e| e.to_string())?, PathBuf::from(file)))
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let mut keys = BTreeMap::new();
    for (name, file) in args.keys {
        let text = String::from_utf8_lossy(&read_file(&file)?).into_owned();
        let key = PolicyKey::parse(text.trim()).map_err(|e| {
            CommandError::from(e).with_hint(format!("{} should hold one public key line", file.display()))
        })?;
        if keys.insert(name.clone(), key).is_some() {
            return Err(CommandError::usage(format!("--key {name} is given twice")));
        }
    }
    let change = Init { keys, ci: args.ci, targets: args.targets };
    let Some(applied) = write_change(context, &change, &WriteOptions::default())? else { return Ok(ExitKind::Holds) };
    let path = applied.outcome;
    say!(context, "wrote {path} (unsigned template)");
    say!(context, "next: edit it (keys, signers, thresholds, soak, freeze, targets), then sign it with the root keys:");
    say!(context, "  gitops-ledger policy sign --key <root key>   (once per root signer)");
    Ok(ExitKind::Holds)
}
