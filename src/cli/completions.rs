//! `completions`: the shell completion script, generated from the clap
//! definitions, so it completes exactly the commands and flags of this build.

use std::io::Write;

use clap_complete::Generator;

use super::exit_codes::{self, ExitCodes};
use super::util::Context;
use super::{CliError, CommandError, ExitKind};

const EXIT_CODES: ExitCodes = &[(0, "printed the script"), (2, "usage or I/O error (a shell it cannot complete for)")];

/// Print the shell completion script.
///
/// For bash: `source <(gitops-ledger completions bash)`; where each shell's script goes is listed under
/// <SHELL>.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// The shell that reads the script.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells clap_complete writes for, each with where its script goes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    /// `source <(gitops-ledger completions bash)` in ~/.bashrc, or the output saved in bash-completion's
    /// completions directory as `gitops-ledger`.
    Bash,
    /// The output saved as `_gitops-ledger` in a directory of $fpath.
    Zsh,
    /// The output saved as ~/.config/fish/completions/gitops-ledger.fish.
    Fish,
    /// `gitops-ledger completions powershell | Out-String | Invoke-Expression` in $PROFILE.
    Powershell,
}

impl From<Shell> for clap_complete::Shell {
    fn from(shell: Shell) -> Self {
        match shell {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
            Shell::Powershell => clap_complete::Shell::PowerShell,
        }
    }
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let mut command = super::command();
    let name = command.get_name().to_string();
    command.set_bin_name(&name);
    command.build();
    let mut script = Vec::new();
    clap_complete::Shell::from(args.shell).try_generate(&command, &mut script).map_err(CliError::Output)?;
    let mut script = String::from_utf8_lossy(&script).into_owned();
    if let Shell::Bash = args.shell {
        script = with_subcommand_states_named_as_dispatched(&script, &name);
    }
    context.out.write_all(script.as_bytes()).map_err(CliError::Output)?;
    Ok(ExitKind::Holds)
}

/// clap_complete's bash script tracks the command typed so far in `$cmd`,
/// spelling `gitops-ledger verify` as `gitops__ledger__subcmd__verify`, but
/// names the branch that completes its flags `gitops__subcmd__ledger__subcmd__verify`:
/// with a hyphen in the binary's name no branch matches, and nothing after a
/// command completes (clap-rs/clap#6421, open). This renames the branches as
/// the dispatch spells them; once clap_complete does so, it changes nothing.
fn with_subcommand_states_named_as_dispatched(script: &str, bin_name: &str) -> String {
    const SEPARATOR: &str = "__subcmd__";
    let branch = format!("{}{SEPARATOR}", bin_name.replace('-', SEPARATOR));
    let dispatched = format!("{}{SEPARATOR}", bin_name.replace('-', "__"));
    script.replace(&branch, &dispatched)
}
