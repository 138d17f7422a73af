//! What the subcommands share: the context they run in, output that stays
//! quiet on a closed pipe, keys, timestamps, and the write path through one
//! [`Transaction`].

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CliError, CommandError};
use crate::append::{Applied, Change, Landed, PushOptions, Transaction, WriteOptions, Written};
use crate::clock::{Clock, Timestamp};
use crate::escape;
use crate::record::{Kind, Name};
use crate::sign::SigningKey;
use crate::store::WorkTree;

/// What every subcommand gets.
pub struct Context {
    pub tree: WorkTree,
    pub clock: Clock,
    pub out: Output,
}

/// The command's standard output. A reader that goes away early
/// (`gitops-ledger log | head -1`) is not an error: what is left to print is
/// dropped, and the exit code stays the command's verdict, as in ripgrep.
pub struct Output {
    inner: Box<dyn Write>,
    closed: bool,
}

impl Output {
    pub fn new(inner: Box<dyn Write>) -> Self {
        Output { inner, closed: false }
    }

    /// Whether the reader went away: a command that streams stops here
    /// rather than reading the rest of the ledger for nobody.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn quiet_on_closed_pipe<T>(&mut self, result: std::io::Result<T>, otherwise: T) -> std::io::Result<T> {
        match result {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(otherwise)
            }
            other => other,
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.quiet_on_closed_pipe(result, buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.quiet_on_closed_pipe(result, ())
    }
}

/// Writes a line to the command's output.
macro_rules! say {
    ($context:expr, $($arg:tt)*) => {
        writeln!($context.out, $($arg)*).map_err($crate::cli::CliError::Output)?
    };
}
pub(crate) use say;

/// A JSON array written one element at a time, byte for byte as
/// `serde_json::to_string_pretty` lays out the whole array nested `depth`
/// levels deep: streaming commands print JSON without holding it. Strings
/// escape their newlines, so every newline of an element is layout.
pub(crate) struct PrettyArray {
    depth: usize,
    empty: bool,
}

impl PrettyArray {
    pub fn new(depth: usize) -> Self {
        PrettyArray { depth, empty: true }
    }

    pub fn push(&mut self, out: &mut Output, element: &impl serde::Serialize) -> Result<(), CommandError> {
        let pad = "  ".repeat(self.depth + 1);
        let text = indent(&escape::json_pretty(element)?, &pad);
        let open = if self.empty { "[\n" } else { ",\n" };
        self.empty = false;
        write!(out, "{open}{pad}{text}").map_err(CliError::Output)?;
        Ok(())
    }

    /// Closes the array (no newline after it).
    pub fn finish(self, out: &mut Output) -> Result<(), CommandError> {
        let close = if self.empty { "[]".to_string() } else { format!("\n{}]", "  ".repeat(self.depth)) };
        write!(out, "{close}").map_err(CliError::Output)?;
        Ok(())
    }
}

/// `text` with `pad` after each of its newlines: pretty JSON nested deeper.
pub(crate) fn indent(text: &str, pad: &str) -> String {
    text.replace('\n', &format!("\n{pad}"))
}

/// `--at`, `--since`, `--until`: RFC 3339 UTC with whole seconds.
pub(crate) fn parse_at(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| e.to_string())
}

/// `--key` and `--signer`, as every signing command takes them.
#[derive(Debug, clap::Args)]
pub struct SigningArgs {
    /// OpenSSH ed25519 private key (encrypted keys read GITOPS_LEDGER_PASSPHRASE),
    /// or a public key (.pub) whose private half the ssh-agent at SSH_AUTH_SOCK
    /// holds: the agent signs, so the private key need not be on disk.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Policy name of the signer; default: the name whose key matches --key.
    #[arg(long, value_name = "NAME")]
    pub signer: Option<Name>,
}

impl SigningArgs {
    /// Loads `--key` with the passphrase from the environment, if any (or,
    /// for a public key, finds the agent holding it).
    /// Like ssh-keygen, it warns about a private key others can read; unlike
    /// ssh-keygen it still signs, since CI secrets are often mounted 0644.
    pub fn load_key(&self) -> Result<SigningKey, CommandError> {
        load_key(&self.key)
    }
}

/// Loads a `--key` file with the passphrase from the environment, if any
/// (or, for a public key, finds the agent holding it). Like ssh-keygen, it
/// warns about a private key others can read; unlike ssh-keygen it still
/// signs, since CI secrets are often mounted 0644.
pub fn load_key(path: &Path) -> Result<SigningKey, CommandError> {
    let key = SigningKey::load(path, SigningKey::passphrase_from_env())?;
    // A public key file is meant to be readable; only a private one is a secret.
    #[cfg(unix)]
    if key.agent_socket().is_none() {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                eprintln!(
                    "warning: private key {} is readable by others (mode {mode:04o}); run chmod 600 on it",
                    path.display()
                );
            }
        }
    }
    Ok(key)
}

/// `--no-project` and the commit and push flags, as every command that appends a record takes them.
#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// Do not update the target files and versions.json (they will show as drift until `project` runs).
    #[arg(long)]
    pub no_project: bool,
    #[command(flatten)]
    pub commit: CommitArgs,
}

impl WriteArgs {
    pub fn options(&self) -> WriteOptions {
        WriteOptions { project: !self.no_project, ..self.commit.options() }
    }
}

/// `--commit` and `--push`, as every writing command that can push takes them.
#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// Make one git commit holding what was written.
    #[arg(long)]
    pub commit: bool,
    /// Commit and push; when the remote moved on, make the change again on its new tip and push again (never forced).
    #[arg(long)]
    pub push: bool,
    /// The remote to push to; default: the branch's upstream remote, else origin.
    #[arg(long, value_name = "NAME", requires = "push")]
    pub remote: Option<String>,
    /// How many times to make the change again on a moved tip before giving up.
    #[arg(long, value_name = "N", default_value_t = 10, requires = "push")]
    pub retries: u32,
}

impl CommitArgs {
    pub fn options(&self) -> WriteOptions {
        let push = self.push.then(|| PushOptions { remote: self.remote.clone(), retries: self.retries });
        WriteOptions { project: false, commit: self.commit || self.push, push }
    }
}

/// Reads a file named on the command line.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CommandError> {
    std::fs::read(path).map_err(|source| CliError::Read { path: path.display().to_string(), source }.into())
}

/// Makes `change` in one transaction: the lock, the writes, the projection,
/// the commit, the push. None: a push found the change already made on the
/// remote's new tip, and said so; nothing was written.
pub(crate) fn write_change<C: Change>(
    context: &mut Context,
    change: &C,
    options: &WriteOptions,
) -> Result<Option<Applied<C::Outcome>>, CommandError> {
    match Transaction::begin(&context.tree)?.apply(change, options, context.clock)? {
        Landed::Applied(applied) => Ok(Some(applied)),
        Landed::AlreadyDone { why, remote } => {
            say!(context, "{remote} moved on meanwhile: {why}; nothing to push");
            Ok(None)
        }
    }
}

/// After [`write_change`]: the projected files and the commit, once the
/// command has said what it wrote.
pub(crate) fn report_applied<T>(context: &mut Context, applied: &Applied<T>) -> Result<(), CommandError> {
    for path in &applied.projected {
        say!(context, "projected {path}");
    }
    if let Some(commit) = &applied.commit {
        say!(context, "committed {commit}");
    }
    match &applied.pushed {
        Some((remote, 0)) => say!(context, "pushed to {remote}"),
        Some((remote, rebuilds)) => say!(
            context,
            "pushed to {remote}, made again on its new tip {rebuilds} time{} (others pushed first)",
            plural(*rebuilds)
        ),
        None => {}
    }
    Ok(())
}

/// What `promote`, `approve` and `evidence` print about the record they wrote.
pub(crate) fn report_written(context: &mut Context, written: &Written) -> Result<(), CommandError> {
    let record = &written.record;
    let from = record.from.as_ref().map_or("outside the ledger".to_string(), |f| f.to_string());
    // The record whose approvals are counted: the one an approval approves, or this one.
    let approved = written.approves.clone().unwrap_or_else(|| record.label());
    match (&record.evidence, record.kind) {
        (Some(evidence), _) => say!(
            context,
            "wrote {} ({}): {} {} for what {} runs",
            written.path,
            record.label(),
            evidence.kind,
            evidence.result,
            record.env
        ),
        (None, Kind::Approval) => {
            say!(context, "wrote {} ({}): approval of {approved} for {}", written.path, record.label(), record.env)
        }
        (None, _) => {
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
            escape::terminal(&declared.reason)
        );
    }
    say!(context, "id {}", written.id);
    if let Some(effective) = &written.takes_effect {
        say!(context, "{}: every threshold met; {effective} takes effect at {}", record.env, record.at);
    }
    for pending in &written.pending {
        say!(
            context,
            "{} needs {} more approval{} (threshold {}): gitops-ledger approve {approved} --key FILE",
            pending.what,
            pending.missing,
            plural(pending.missing),
            pending.threshold,
        );
    }
    Ok(())
}

/// The status as a table, one running image a row.
pub(crate) fn print_status(context: &mut Context, status: &crate::status::Status) -> Result<(), CommandError> {
    say!(context, "as of {}", status.at);
    let header = ["APP", "ENV", "IMAGE", "TAG", "DIGEST", "RECORD", "SINCE", "EVIDENCE"];
    let mut rows = vec![header.map(String::from).to_vec()];
    let rank = |env: &str| status.environments.iter().position(|e| e == env).unwrap_or(usize::MAX);
    for (app, envs) in &status.apps {
        let mut ordered: Vec<_> = envs.iter().collect();
        ordered.sort_by_key(|(env, _)| (rank(env), env.as_str()));
        for (env, env_status) in ordered {
            for (name, image) in &env_status.images {
                let evidence: Vec<String> =
                    image.evidence.iter().map(|(kind, seen)| format!("{kind}:{}", seen.result)).collect();
                rows.push(vec![
                    app.clone(),
                    env.clone(),
                    name.clone(),
                    image.tag.clone().unwrap_or_else(|| "-".into()),
                    image.digest.chars().take(19).collect(),
                    format!("{app}@{}", image.seq),
                    env_status.set_at.to_string(),
                    if evidence.is_empty() { "-".into() } else { evidence.join(",") },
                ]);
            }
        }
    }
    if rows.len() == 1 {
        say!(context, "nothing promoted yet");
    }
    if rows.len() > 1 {
        let widths: Vec<usize> =
            (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        for row in rows {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
            say!(context, "{}", cells.join("  ").trim_end());
        }
    }
    for pending in &status.pending {
        say!(
            context,
            "pending: {} {}, signed by {}; {}: gitops-ledger approve {} --key FILE",
            pending.record,
            pending.env,
            pending.signers.join(", "),
            pending.missing.join("; "),
            pending.record
        );
    }
    Ok(())
}

/// The `s` of a plural noun after a count.
pub(crate) fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) {
        ""
    } else {
        "s"
    }
}

/// A revision's tree (`--rev`, `--base`), read through git objects.
pub fn open_rev(context: &Context, rev: &str) -> Result<crate::store::GitTree, CommandError> {
    crate::store::GitTree::open(context.tree.root(), rev).map_err(|err| {
        CommandError::from(err).with_hint(format!(
            "a CI checkout is often shallow: fetch the revision first (git fetch --depth=1 origin {rev})"
        ))
    })
}
