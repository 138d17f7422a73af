//! A tiny test-repo helper: a temp dir holding `repo/` (a real git repo) and
//! `keys/` (the shared test keys), and the binary run hermetically in it.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// "Now" for every command unless a test says otherwise.
pub const NOW: &str = "2026-11-28T10:00:00Z";
/// Test keys from the conformance vectors (never used for anything real).
pub const KEYS: [&str; 4] = ["alice", "bob", "carol", "ci"];

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn digest(fill: char) -> String {
    format!("sha256:{}", fill.to_string().repeat(64))
}

pub struct TestRepo {
    _temp: tempfile::TempDir,
    pub root: PathBuf,
    pub keys: PathBuf,
    pub now: String,
}

impl TestRepo {
    /// An empty git repo with a fixed author, and the test keys beside it.
    pub fn new() -> Self {
        let repo = TestRepo::empty();
        repo.git(&["init", "-q", "-b", "main"]);
        repo.configure_author();
        repo
    }

    /// A clone of `remote` (its `origin`), with the test keys beside it.
    pub fn clone_of(remote: &Path) -> Self {
        let repo = TestRepo::empty();
        std::fs::remove_dir(&repo.root).unwrap();
        repo.git_in(repo.root.parent().unwrap(), &["clone", "-q", &remote.display().to_string(), "repo"]);
        repo.configure_author();
        repo
    }

    /// A bare repo beside this one holding its main branch, set as its
    /// `origin` with main tracking it: the remote of `--push` tests.
    pub fn bare_remote(&self) -> PathBuf {
        let bare = self.keys.parent().unwrap().join("remote.git");
        self.git(&["init", "-q", "--bare", "-b", "main", &bare.display().to_string()]);
        // Keep a reflog, so a test can see that every update was a fast-forward.
        self.git_in(&bare, &["config", "core.logAllRefUpdates", "always"]);
        self.git(&["remote", "add", "origin", &bare.display().to_string()]);
        self.git(&["push", "-q", "-u", "origin", "main"]);
        bare
    }

    fn empty() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("repo");
        let keys = temp.path().join("keys");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&keys).unwrap();
        for name in KEYS {
            for file in [name.to_string(), format!("{name}.pub")] {
                let target = keys.join(&file);
                std::fs::copy(data_dir().join("vectors/keys").join(&file), &target).unwrap();
                set_mode(&target, if file.ends_with(".pub") { 0o644 } else { 0o600 });
            }
        }
        TestRepo { _temp: temp, root, keys, now: NOW.to_string() }
    }

    fn configure_author(&self) {
        self.git(&["config", "user.name", "Test Author"]);
        self.git(&["config", "user.email", "author@example.invalid"]);
    }

    /// A repo whose policy version 1 names alice, bob, carol (humans) and ci
    /// (the bot), signed by alice and bob, committed.
    pub fn with_signed_policy() -> Self {
        let repo = TestRepo::new();
        repo.init_policy(|_| {});
        repo
    }

    /// `init` with every test key, `edit` applied, signed by alice and bob, committed.
    pub fn init_policy(&self, edit: impl FnOnce(&mut Value)) {
        let mut args = vec!["init".to_string()];
        for name in KEYS {
            args.push("--key".into());
            args.push(format!("{name}={}", self.key(&format!("{name}.pub")).display()));
        }
        args.extend(["--ci".into(), "ci".into()]);
        self.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        self.edit_json("promotions/policy/00000001.json", |policy| {
            // Records in tests are backdated up to a few days; the policy predates them.
            policy["at"] = "2026-11-01T00:00:00Z".into();
            // Projection tests opt in to overlays; the rest project versions.json only.
            policy["overlay"] = serde_json::Value::Null;
            edit(policy);
        });
        self.ok(&["policy", "sign", "--key", &self.key_str("alice")]);
        self.ok(&["policy", "sign", "--key", &self.key_str("bob")]);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "policy version 1"]);
    }

    /// `project`: brings versions.json (and overlays) up to date with the ledger.
    pub fn project(&self) {
        self.ok(&["project"]);
    }

    pub fn key(&self, name: &str) -> PathBuf {
        self.keys.join(name)
    }

    pub fn key_str(&self, name: &str) -> String {
        self.key(name).display().to_string()
    }

    /// The binary with a cleared environment, git pointed away from any
    /// user or system config, and the clock fixed at `self.now`.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.process())
    }

    /// [`TestRepo::cmd`] as a plain process, to run several at once.
    pub fn process(&self) -> std::process::Command {
        self.hermetic(assert_cmd::cargo::cargo_bin("gitops-ledger"))
    }

    /// `program` run as [`TestRepo::process`] runs the binary: in the repo,
    /// with only PATH and the hermetic git and clock settings in its environment.
    pub fn hermetic(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.keys.parent().unwrap())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_SYSTEM", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GITOPS_LEDGER_NOW", &self.now)
            // Commits made by the binary land "now" too, so audit sees the fixed clock.
            .env("GIT_AUTHOR_DATE", &self.now)
            .env("GIT_COMMITTER_DATE", &self.now)
            .current_dir(&self.root);
        cmd
    }

    /// `bash -c script` in the environment of [`TestRepo::process`], with the
    /// binary's directory first on PATH: `gitops-ledger` as an installed command.
    pub fn bash(&self, script: &str) -> Output {
        let binary = self.process();
        let mut bash = std::process::Command::new("bash");
        bash.args(["--noprofile", "--norc", "-c", script]).env_clear().current_dir(&self.root);
        for (key, value) in binary.get_envs() {
            if let Some(value) = value {
                bash.env(key, value);
            }
        }
        let installed = Path::new(binary.get_program()).parent().unwrap().to_path_buf();
        let path = std::env::var_os("PATH").unwrap_or_default();
        bash.env("PATH", std::env::join_paths(std::iter::once(installed).chain(std::env::split_paths(&path))).unwrap());
        bash.output().unwrap()
    }

    /// The id of policy version 1 to pin with `--trust`, as an unpinned
    /// `verify` names it in its trust-on-first-use warning.
    pub fn trust_anchor(&self) -> String {
        let json: Value = serde_json::from_str(&self.ok(&["verify", "--format", "json"])).unwrap();
        json["warnings"][0].as_str().unwrap().rsplit(' ').next().unwrap().to_string()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and asserts exit 0, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args))
    }

    /// Runs and asserts the exit code, returning stdout + stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{args:?} should exit {code}; output:\n{text}");
        text
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    /// git, hermetic as [`TestRepo::git`], in another directory.
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_SYSTEM", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", &self.now)
            .env("GIT_COMMITTER_DATE", &self.now)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn status(&self) -> String {
        self.git(&["status", "--porcelain", "--untracked-files=all"])
    }

    pub fn commit_count(&self) -> usize {
        self.git(&["rev-list", "--count", "HEAD"]).trim().parse().unwrap()
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root.join(path)).unwrap()
    }

    pub fn read_json(&self, path: &str) -> Value {
        serde_json::from_str(&self.read(path)).unwrap()
    }

    pub fn write(&self, path: &str, text: &str) {
        let full = self.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    pub fn edit_json(&self, path: &str, edit: impl FnOnce(&mut Value)) {
        let mut value = self.read_json(path);
        edit(&mut value);
        self.write(path, &(serde_json::to_string_pretty(&value).unwrap() + "\n"));
    }

    /// Takes the write lock a running command would hold, until the file is dropped.
    pub fn hold_write_lock(&self) -> std::fs::File {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(".git/gitops-ledger.lock"))
            .unwrap();
        lock.lock().unwrap();
        lock
    }

    /// Promotes `image` (ghcr.io/o/api@digest) of app `api` to `env` at `at`, committed.
    pub fn promote(&self, env: &str, fill: char, key: &str, at: &str) -> String {
        self.ok(&[
            "promote",
            "--app",
            "api",
            "--env",
            env,
            "--image",
            &format!("ghcr.io/o/api@{}", digest(fill)),
            "--key",
            &self.key_str(key),
            "--at",
            at,
            "--commit",
        ])
    }
}

/// The stdout of a run of `args` that must have exited 0 (else its whole output, in the panic).
pub fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "{args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) {}

/// RFC 8785 canonical bytes and id of a JSON file, computed with the
/// canonicalizer directly (not through the crate's typed fast path).
pub fn independent_id(value: &Value) -> String {
    use sha2::Digest as _;
    let bytes = serde_json_canonicalizer::to_vec(value).unwrap();
    format!("sha256:{}", hex(&sha2::Sha256::digest(&bytes)))
}

pub fn independent_message(value: &Value) -> Vec<u8> {
    let mut unsigned = value.clone();
    unsigned.as_object_mut().unwrap().remove("signatures");
    serde_json_canonicalizer::to_vec(&unsigned).unwrap()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A record to write straight through the library, bypassing `promote`'s
/// checks, as a buggy tool or an attacker with a key could.
pub struct Forged<'a> {
    /// The app, `api` unless set.
    pub app: &'a str,
    pub seq: u64,
    pub env: &'a str,
    pub from: Option<&'a str>,
    pub rollback: bool,
    pub fill: char,
    pub at: &'a str,
    pub policy: u64,
    pub signers: &'a [&'a str],
    /// An evidence record: (type, passed).
    pub evidence: Option<(&'a str, bool)>,
    /// An approval record of the record with this seq (its env and images
    /// are the caller's to match, as a buggy tool might not).
    pub approves: Option<u64>,
}

impl<'a> Forged<'a> {
    pub fn new(seq: u64, env: &'a str, fill: char, at: &'a str, signers: &'a [&'a str]) -> Self {
        let from = match env {
            "staging" => Some("dev"),
            "production" => Some("staging"),
            _ => None,
        };
        Forged {
            app: "api",
            seq,
            env,
            from,
            rollback: false,
            fill,
            at,
            policy: 1,
            signers,
            evidence: None,
            approves: None,
        }
    }

    /// An approval of record `approves`, for `env` and digest `fill`.
    pub fn approval(seq: u64, approves: u64, env: &'a str, fill: char, at: &'a str, signers: &'a [&'a str]) -> Self {
        Forged { from: None, approves: Some(approves), ..Forged::new(seq, env, fill, at, signers) }
    }
}

impl TestRepo {
    /// A valid ledger of app `api` (dev → staging → production of 'a'),
    /// projected, not committed.
    pub fn with_landed_records() -> Self {
        let repo = TestRepo::with_signed_policy();
        repo.forge(Forged::new(1, "dev", 'a', "2026-11-25T08:00:00Z", &["ci"]));
        repo.forge(Forged::new(2, "staging", 'a', "2026-11-25T09:00:00Z", &["alice"]));
        repo.forge(Forged::new(3, "production", 'a', "2026-11-26T10:00:00Z", &["alice", "bob"]));
        repo.project();
        repo
    }

    /// [`TestRepo::with_landed_records`], committed and tagged `base`: the
    /// base of a pull-request check.
    pub fn landed_at_base() -> Self {
        let repo = TestRepo::with_landed_records();
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "landed"]);
        repo.git(&["tag", "base"]);
        repo
    }
}

impl TestRepo {
    /// Break-glass: alice and bob together may waive rules in production;
    /// dev runs 'a'.
    pub fn with_break_glass() -> Self {
        let repo = TestRepo::new();
        repo.init_policy(|policy| {
            policy["break_glass"] = serde_json::json!({"signers": ["alice", "bob"], "threshold": 2})
        });
        repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
        repo
    }

    /// `promote` of 'f' to production by alice, waiving provenance for
    /// `override_reason`, with `extra` arguments; returns stdout.
    pub fn hotfix(&self, override_reason: &str, extra: &[&str]) -> String {
        let image = format!("ghcr.io/o/api@{}", digest('f'));
        let key = self.key_str("alice");
        let mut args = vec!["promote", "--app", "api", "--env", "production", "--image", &image];
        args.extend(["--override-reason", override_reason, "--override-rule", "provenance", "--key", &key]);
        args.extend_from_slice(extra);
        self.ok(&args)
    }
}

impl TestRepo {
    /// Writes record `forged.seq` of app `forged.app`, chained to the file before it, signed by `signers`.
    pub fn forge(&self, forged: Forged) -> String {
        use gitops_ledger::canonical::{record_id, record_message};
        use gitops_ledger::clock::Timestamp;
        use gitops_ledger::record::{
            Digest, Evidence, EvidenceResult, Image, ImageName, Kind, Name, Record, RecordId, Signature, Upstream,
        };
        let app = forged.app;
        let path = format!("promotions/apps/{app}/{:08}.json", forged.seq);
        let prev: Option<RecordId> = (forged.seq > 1).then(|| {
            let prev_path = format!("promotions/apps/{app}/{:08}.json", forged.seq - 1);
            let bytes = std::fs::read(self.root.join(&prev_path)).unwrap();
            record_id(&Record::from_json(&prev_path, &bytes).unwrap()).unwrap()
        });
        let mut record = Record {
            schema: gitops_ledger::record::RECORD_SCHEMA.into(),
            app: Name::parse(app).unwrap(),
            seq: forged.seq,
            prev,
            policy: forged.policy,
            env: Name::parse(forged.env).unwrap(),
            from: forged.from.map(|f| Upstream::One(Name::parse(f).unwrap())),
            kind: match (forged.evidence, forged.rollback, forged.approves) {
                (Some(_), _, _) => Kind::Evidence,
                (None, _, Some(_)) => Kind::Approval,
                (None, true, None) => Kind::Rollback,
                (None, false, None) => Kind::Promote,
            },
            approves: forged.approves.map(|seq| {
                let approved = format!("promotions/apps/{app}/{seq:08}.json");
                let bytes = std::fs::read(self.root.join(&approved)).unwrap();
                record_id(&Record::from_json(&approved, &bytes).unwrap()).unwrap()
            }),
            images: vec![Image {
                name: ImageName::parse("ghcr.io/o/api").unwrap(),
                digest: Digest::parse(&digest(forged.fill)).unwrap(),
                tag: None,
            }],
            at: Timestamp::parse(forged.at).unwrap(),
            evidence: forged.evidence.map(|(kind, passed)| Evidence {
                kind: Name::parse(kind).unwrap(),
                result: if passed { EvidenceResult::Pass } else { EvidenceResult::Fail },
                url: None,
                sha256: None,
            }),
            override_: None,
            reason: None,
            signatures: Vec::new(),
        };
        if forged.evidence.is_some() {
            record.from = None;
        }
        let message = record_message(&record).unwrap();
        for signer in forged.signers {
            let key = gitops_ledger::sign::SigningKey::load(&self.key(signer), None).unwrap();
            record
                .signatures
                .push(Signature { signer: Name::parse(signer).unwrap(), sig: key.sign(&message).unwrap() });
        }
        self.write(&path, &String::from_utf8(record.to_pretty_json()).unwrap());
        path
    }
}

/// Set to 1 (as `.ci/run` does), a test whose external tool is missing fails
/// instead of skipping, so CI never passes without running it.
pub const REQUIRE_TOOLS: &str = "GITOPS_LEDGER_REQUIRE_TOOLS";

/// Whether `tool`, an external program a test runs (other than git, which
/// every fixture needs), is usable here. When it is not, the test fails if
/// GITOPS_LEDGER_REQUIRE_TOOLS=1; otherwise this prints
/// `SKIPPED: {purpose}: {problem} ({how to install})` and returns false, and
/// the caller returns (or leaves out the checks that need the tool).
pub fn tool_available(tool: &str, purpose: &str) -> bool {
    let problem = tool_problem(tool);
    let require = std::env::var(REQUIRE_TOOLS).ok();
    match skip_or_fail(tool, purpose, problem.as_deref(), require.as_deref()) {
        None => true,
        Some(skipped) => {
            println!("{skipped}");
            false
        }
    }
}

/// The decision of [`tool_available`], given what is wrong with the tool (if
/// anything) and the value of GITOPS_LEDGER_REQUIRE_TOOLS: None to run, the
/// SKIPPED line to skip; panics when every tool is required.
pub fn skip_or_fail(tool: &str, purpose: &str, problem: Option<&str>, require_tools: Option<&str>) -> Option<String> {
    let required = match require_tools {
        None | Some("" | "0") => false,
        Some("1") => true,
        Some(other) => {
            panic!("{REQUIRE_TOOLS}={other:?}: set it to 1 (a missing tool fails the tests) or leave it unset")
        }
    };
    let problem = problem?;
    let install = install_hint(tool);
    if required {
        panic!("{purpose}: {problem} ({install}); {REQUIRE_TOOLS}=1 requires every tool the tests run");
    }
    Some(format!("SKIPPED: {purpose}: {problem} ({install})"))
}

/// What keeps `tool` from running here, or None when it runs.
pub fn tool_problem(tool: &str) -> Option<String> {
    if !on_path(tool) {
        return Some(format!("{tool} is not installed"));
    }
    match tool {
        "kubectl" => match probe(tool, &["version", "--client"]) {
            Ok(version) => kustomize_problem(&version),
            Err(problem) => Some(problem),
        },
        "chromium" => probe(tool, &["--version"]).err(),
        _ => None,
    }
}

/// The renders need kustomize v5 (Debian's kubernetes-client has v2), as
/// `kubectl version --client` reports it.
pub fn kustomize_problem(kubectl_version: &str) -> Option<String> {
    let kustomize = kubectl_version.lines().find_map(|line| line.trim().strip_prefix("Kustomize Version:"));
    match kustomize.map(str::trim) {
        Some(version) if version == "v5" || version.starts_with("v5.") => None,
        Some(version) => Some(format!("kubectl has kustomize {version}, not v5")),
        None => Some("kubectl has no kustomize ('kubectl version --client' names no Kustomize Version)".into()),
    }
}

fn install_hint(tool: &str) -> &'static str {
    match tool {
        "chromium" => "apt-get install chromium",
        "ssh-keygen" | "ssh-agent" | "ssh-add" => "apt-get install openssh-client",
        "watchman" => "apt-get install watchman",
        "groff" => "apt-get install groff-base",
        "pre-commit" => "pip install pre-commit",
        "kubectl" => {
            "install kubectl with kustomize v5 from the Kubernetes packages, https://kubernetes.io/docs/tasks/tools/"
        }
        _ => "no install hint known: put it on PATH",
    }
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(tool)))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

/// Runs `tool args` and returns its stdout, or why it did not succeed.
fn probe(tool: &str, args: &[&str]) -> Result<String, String> {
    let shown = format!("'{tool} {}'", args.join(" "));
    let out = std::process::Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|err| format!("{tool} is on PATH but {shown} does not start ({err})"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{shown} failed ({}): {}", out.status, stderr.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A real `ssh-agent` on a socket of its own, ended when dropped.
pub struct Agent {
    child: std::process::Child,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        // -D keeps the agent in the foreground: the child is the agent itself,
        // so Drop ends exactly it.
        let child = std::process::Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let agent = Agent { child, socket, _dir: dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !agent.socket.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "ssh-agent made no socket at {} in 10 s",
                agent.socket.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        agent
    }

    /// `ssh-add FILE`, as a user would.
    pub fn add(&self, private: &Path) {
        let out = std::process::Command::new("ssh-add")
            .arg(private)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-add {}: {}", private.display(), String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the OpenSSH programs these tests run are here (fails instead
/// when GITOPS_LEDGER_REQUIRE_TOOLS=1).
pub fn agent_tools(purpose: &str) -> bool {
    ["ssh-agent", "ssh-add", "ssh-keygen"].iter().all(|tool| tool_available(tool, purpose))
}
