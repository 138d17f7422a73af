//! `keygen FILE`: an OpenSSH ed25519 key pair, the same format as `ssh-keygen -t ed25519`.

use std::io::Write;
use std::path::PathBuf;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context};
use super::{CommandError, ExitKind};
use crate::sign::{public_path, SigningKey};

const EXIT_CODES: ExitCodes = &[
    (0, "wrote FILE and FILE.pub"),
    (2, "usage or I/O error (bad flag, FILE or FILE.pub already exists, cannot write there)"),
];

/// Write a new OpenSSH ed25519 key pair: FILE (private, mode 0600) and FILE.pub.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// Where to write the private key; the public key goes to FILE.pub. Never overwritten.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Comment stored in the key, e.g. who owns it.
    #[arg(long, default_value = "gitops-ledger")]
    pub comment: String,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let public = SigningKey::generate(&args.file, &args.comment)?;
    say!(context, "wrote {} (private, mode 0600) and {}", args.file.display(), public_path(&args.file).display());
    say!(context, "{public}");
    Ok(ExitKind::Holds)
}
