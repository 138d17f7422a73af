//! `attest`: what an environment runs, as a signed in-toto / SLSA VSA statement for the cluster.

use std::io::Write;
use std::path::PathBuf;

use super::exit_codes::{self, ExitCodes};
use super::util::{load_key, open_rev, say, Context};
use super::{CliError, CommandError, ExitKind};
use crate::attest::{attest, envelope, Request, PREDICATE_TYPE};
use crate::escape;
use crate::ledger::Ledger;
use crate::record::{Name, RecordId};
use crate::store::Snapshot;
use crate::verify::VerifyOptions;

const EXIT_CODES: ExitCodes = &[
    (0, "written"),
    (
        1,
        "refused, nothing written: a rule fails in the policies or the app's chain, the environment runs nothing \
         of the app yet, or a digest it runs came in through a break-glass override (without --allow-override)",
    ),
    (
        2,
        "usage or I/O error (no --key without --predicate-only, an unknown app or environment, no policy yet, an \
         unknown --rev, an unreadable key, an --out that cannot be written)",
    ),
];

/// Attest what an environment runs: a DSSE envelope of an in-toto statement with a SLSA verification summary.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// The app, as named under promotions/apps/.
    #[arg(long, value_name = "APP")]
    pub app: Name,
    /// The environment whose running images are the statement's subjects.
    #[arg(long, value_name = "ENV")]
    pub env: Name,
    /// Attest the ledger in this revision's tree (read from git objects; `HEAD` in CI) instead of the work tree,
    /// whose records may not be committed yet.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// The verifier's key, which signs the envelope: an OpenSSH ed25519 private key, or a public key (.pub) whose
    /// private half the ssh-agent at SSH_AUTH_SOCK holds.
    #[arg(long, value_name = "FILE", required_unless_present = "predicate_only")]
    pub key: Option<PathBuf>,
    /// Write here (atomically) instead of to stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the SLSA verification summary alone, unsigned, for `cosign attest --predicate FILE --type
    /// https://slsa.dev/verification_summary/v1`.
    #[arg(long, conflicts_with = "key")]
    pub predicate_only: bool,
    /// Attest digests that came in through a break-glass override (here or in any other environment); the
    /// statement then says so (GITOPS_LEDGER_BREAK_GLASS).
    #[arg(long)]
    pub allow_override: bool,
    /// Pin policy version 1 by its id (sha256:HEX); without it, the root is trusted on first use.
    #[arg(long, value_name = "ID")]
    pub trust: Option<RecordId>,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    // The key first: a key that cannot sign is reported before any work.
    let key = args.key.as_deref().map(load_key).transpose()?;
    let rev_tree = args.rev.as_deref().map(|rev| open_rev(context, rev)).transpose()?;
    let tree: &dyn Snapshot = match &rev_tree {
        Some(tree) => tree,
        None => &context.tree,
    };
    let ledger = Ledger::load(tree)?;
    let request = Request {
        app: args.app,
        env: args.env,
        allow_override: args.allow_override,
        verify: VerifyOptions { trust: args.trust },
    };
    let attestation = attest(&ledger, &request, context.clock.now())?;
    for warning in &attestation.warnings {
        eprintln!("warning: {}", escape::terminal(warning));
    }
    let text = match &key {
        Some(key) => escape::json_pretty(&envelope(&attestation.statement, key)?)?,
        None => escape::json_pretty(&attestation.statement.predicate)?,
    };
    match &args.out {
        Some(path) => {
            crate::store::persist(path, format!("{text}\n").as_bytes())
                .map_err(|source| CliError::Write { path: path.display().to_string(), source })?;
            let what = if key.is_some() { "signed statement" } else { PREDICATE_TYPE };
            let subjects = attestation.statement.subject.len();
            say!(
                context,
                "wrote {} ({what} of {} {}: {subjects} image{})",
                escape::terminal(&path.display().to_string()),
                request.app,
                request.env,
                super::util::plural(subjects)
            );
        }
        None => say!(context, "{text}"),
    }
    Ok(ExitKind::Holds)
}
