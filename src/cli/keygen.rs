//! `keygen FILE`: an OpenSSH ed25519 key pair, the same format as `ssh-keygen -t ed25519`.

use std::io::Write;
use std::path::PathBuf;

use super::util::{say, Context};
use super::{CommandError, ExitKind};
use crate::sign::{public_path, SigningKey};

/// Write a new OpenSSH ed25519 key pair: FILE (private, mode 0600) and FILE.pub.
#[derive(Debug, clap::Args)]
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
