//! `policy sign` and `policy new`.

use super::exit_codes::{self, ExitCodes};
use super::util::{report_applied, say, write_change, CommitArgs, Context, SigningArgs};
use super::{CommandError, ExitKind};
use crate::append::{NewPolicyVersion, SignPolicy, WriteOptions};
use std::io::Write;

const SIGN_EXIT_CODES: ExitCodes = &[
    (0, "signed (root signatures still needed are listed)"),
    (
        1,
        "refused, nothing written: not a root signer, already signed, a policy file that does not parse, or \
         another gitops-ledger command holds the write lock",
    ),
    (2, "usage or I/O error (no policy yet, unreadable key, a key the policy does not name)"),
];

const NEW_EXIT_CODES: ExitCodes = &[
    (0, "wrote the unsigned copy as version N+1"),
    (
        1,
        "refused, nothing written: no fully signed policy to copy (none yet, or the newest version still needs \
         signatures), or another gitops-ledger command holds the write lock",
    ),
    (2, "usage or I/O error (an unexpected argument, the new file cannot be written)"),
];

/// Sign or start a policy version.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Sign the newest policy version with a root key (of it, or of the version before it).
    #[command(after_long_help = exit_codes::help(SIGN_EXIT_CODES))]
    Sign(SignArgs),
    /// Copy the newest policy to version N+1, unsigned, to edit and sign.
    #[command(after_long_help = exit_codes::help(NEW_EXIT_CODES))]
    New(NewArgs),
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub commit: CommitArgs,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Make one git commit holding the new version (it fails verify until its root signatures are in: collect
    /// them on a branch).
    #[arg(long)]
    pub commit: bool,
}

pub fn run(context: &mut Context, command: Command) -> Result<ExitKind, CommandError> {
    match command {
        Command::Sign(args) => {
            let key = args.signing.load_key()?;
            let change = SignPolicy { key: &key, signer: args.signing.signer };
            let Some(applied) = write_change(context, &change, &args.commit.options())? else {
                return Ok(ExitKind::Holds);
            };
            let signed = &applied.outcome;
            say!(context, "signed {} (policy version {}) as {}", signed.path, signed.version, signed.signer);
            if signed.outstanding.is_empty() {
                say!(context, "policy version {} is fully signed; id {}", signed.version, signed.id);
                if signed.version == 1 {
                    say!(context, "pin it in CI: gitops-ledger verify --trust {}", signed.id);
                }
            } else {
                for violation in &signed.outstanding {
                    say!(context, "still needed: {}", violation.message);
                }
            }
            report_applied(context, &applied)?;
            Ok(ExitKind::Holds)
        }
        Command::New(args) => {
            let options = WriteOptions { commit: args.commit, ..WriteOptions::default() };
            let Some(applied) = write_change(context, &NewPolicyVersion, &options)? else {
                return Ok(ExitKind::Holds);
            };
            let path = &applied.outcome;
            say!(context, "wrote {path} (unsigned copy of the newest version)");
            report_applied(context, &applied)?;
            say!(context, "next: edit it, then `gitops-ledger policy sign` with the root keys of the previous and the new version");
            Ok(ExitKind::Holds)
        }
    }
}
