//! The GitHub Action's own shell steps (.github/action/install.sh and
//! run.sh), run as a runner runs them, with a faked GITHUB_* environment, on
//! a local `file://` release made of the real built binary by the release
//! workflow's packing script; and the pre-commit hooks through pre-commit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common::{tool_available, TestRepo};

/// The release tag of the local release.
const VERSION: &str = "v0.1.0";
/// What RUNNER_OS=Linux RUNNER_ARCH=X64 installs (the debug binary of this
/// build stands in for the static musl one: the same program).
const TARGET: &str = "x86_64-unknown-linux-musl";
const ARCHIVE: &str = "gitops-ledger-v0.1.0-x86_64-unknown-linux-musl.tar.gz";

fn project_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A local release of this build: the binary packed by
/// .github/release/package.sh, and SHA256SUMS as the release workflow writes
/// it. Made once per test run (packing the debug binary takes seconds).
fn release_dir() -> &'static Path {
    static RELEASE: OnceLock<tempfile::TempDir> = OnceLock::new();
    RELEASE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let binary = assert_cmd::cargo::cargo_bin("gitops-ledger");
            let out = Command::new("bash")
                .arg(project_dir().join(".github/release/package.sh"))
                .args([VERSION, TARGET])
                .arg(&binary)
                .arg(dir.path())
                .output()
                .unwrap();
            let (stdout, stderr) = text(&out);
            assert!(out.status.success(), "package.sh failed: {stdout}{stderr}");
            assert_eq!(stdout.trim(), dir.path().join(ARCHIVE).display().to_string());
            write_sums(dir.path());
            dir
        })
        .path()
}

/// SHA256SUMS of the archives in `dir`, the release workflow's command.
fn write_sums(dir: &Path) {
    let out = Command::new("bash")
        .args(["-c", "sha256sum -- gitops-ledger-* >SHA256SUMS"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "sha256sum: {}", text(&out).1);
}

/// A faked GitHub runner: RUNNER_TEMP and the files a step appends to.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Self {
        let runner = Runner { dir: tempfile::tempdir().unwrap() };
        std::fs::create_dir(runner.temp()).unwrap();
        for file in ["github_path", "github_output", "step_summary"] {
            std::fs::write(runner.dir.path().join(file), "").unwrap();
        }
        runner
    }

    fn temp(&self) -> PathBuf {
        self.dir.path().join("runner_temp")
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    /// The directories a step added to PATH for the steps after it.
    fn path_entries(&self) -> Vec<String> {
        self.file("github_path").lines().map(str::to_string).collect()
    }

    /// Runs the action's step `script` as the runner does (bash, with the
    /// GITHUB_* and RUNNER_* variables), in `repo`'s environment, with PATH
    /// led by what earlier steps added.
    fn step(&self, repo: &TestRepo, script: &str, inputs: &[(&str, &str)]) -> Output {
        let mut path: Vec<PathBuf> = self.path_entries().iter().map(PathBuf::from).collect();
        path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        let mut cmd = repo.hermetic("bash");
        cmd.arg(project_dir().join(".github/action").join(script))
            .env("PATH", std::env::join_paths(path).unwrap())
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TEMP", self.temp())
            .env("GITHUB_PATH", self.dir.path().join("github_path"))
            .env("GITHUB_OUTPUT", self.dir.path().join("github_output"))
            .env("GITHUB_STEP_SUMMARY", self.dir.path().join("step_summary"))
            .env("GITHUB_WORKSPACE", &repo.root)
            .env("GITHUB_ACTION_PATH", project_dir())
            .envs(inputs.iter().copied());
        cmd.output().unwrap()
    }

    /// The install step from `download_url`.
    fn install(&self, repo: &TestRepo, download_url: &str) -> Output {
        self.step(repo, "install.sh", &[("INPUT_VERSION", VERSION), ("INPUT_DOWNLOAD_URL", download_url)])
    }
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

#[test]
fn the_install_step_puts_the_checked_release_binary_on_path() {
    let repo = TestRepo::new();
    let runner = Runner::new();
    let out = runner.install(&repo, &file_url(release_dir()));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let bin_dir = runner.temp().join(format!("gitops-ledger-{VERSION}/gitops-ledger-{VERSION}-{TARGET}"));
    assert_eq!(runner.path_entries(), [bin_dir.display().to_string()]);
    assert_eq!(runner.file("github_output"), format!("path={}\n", bin_dir.display()));
    assert!(stdout.contains(&format!("{ARCHIVE}: OK\n")), "{stdout}");
    assert!(stdout.contains(&format!("(sha256 checked) in {}", bin_dir.display())), "{stdout}");
    // The installed binary is this build's and runs.
    let installed = bin_dir.join("gitops-ledger");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(assert_cmd::cargo::cargo_bin("gitops-ledger")).unwrap()
    );
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert!(text(&version).0.starts_with("gitops-ledger "), "{:?}", text(&version));
    // The download directory is gone.
    let left: Vec<_> =
        std::fs::read_dir(runner.temp()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(left, [format!("gitops-ledger-{VERSION}")]);
}

#[test]
fn a_corrupted_archive_fails_its_checksum_and_installs_nothing() {
    let corrupted = tempfile::tempdir().unwrap();
    std::fs::copy(release_dir().join("SHA256SUMS"), corrupted.path().join("SHA256SUMS")).unwrap();
    let mut archive = std::fs::read(release_dir().join(ARCHIVE)).unwrap();
    let middle = archive.len() / 2;
    archive[middle] ^= 0x01;
    std::fs::write(corrupted.path().join(ARCHIVE), archive).unwrap();

    let repo = TestRepo::new();
    let runner = Runner::new();
    let url = file_url(corrupted.path());
    let out = runner.install(&repo, &url);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains(&format!("{ARCHIVE}: FAILED")), "{stdout}");
    assert!(
        stderr.ends_with(&format!(
            "error: {ARCHIVE} does not match its sha256 in {url}/SHA256SUMS: the download is corrupt or was \
             tampered with, so nothing was installed; download it again, or compare the release's SHA256SUMS \
             with the archive\n"
        )),
        "{stderr}"
    );
    assert_eq!(runner.path_entries(), Vec::<String>::new());
    assert_eq!(runner.file("github_output"), "");
    assert_eq!(std::fs::read_dir(runner.temp()).unwrap().count(), 0, "nothing is unpacked or left behind");
}

#[test]
fn the_install_step_refuses_a_release_without_a_checksum_or_a_version() {
    let no_line = tempfile::tempdir().unwrap();
    std::fs::hard_link(release_dir().join(ARCHIVE), no_line.path().join(ARCHIVE)).unwrap();
    std::fs::write(no_line.path().join("SHA256SUMS"), format!("{}  other.tar.gz\n", "0".repeat(64))).unwrap();
    let repo = TestRepo::new();
    let runner = Runner::new();
    let url = file_url(no_line.path());
    let out = runner.install(&repo, &url);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out).1,
        format!(
            "error: {url}/SHA256SUMS has no line for {ARCHIVE}; the release is incomplete, so nothing was installed\n"
        )
    );

    // No version input, and the action used at a branch: nothing to pick.
    let out = runner.step(&repo, "install.sh", &[("ACTION_REF", "main")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.starts_with("error: no version to install: set the action's version input"),
        "{:?}",
        text(&out)
    );
    assert_eq!(runner.path_entries(), Vec::<String>::new());
}

/// A config repo whose ledger landed at tag `base`, with the action
/// installed from the local release.
fn installed_on(repo: &TestRepo) -> Runner {
    let runner = Runner::new();
    let out = runner.install(repo, &file_url(release_dir()));
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    runner
}

/// The verify step, pinned to `repo`'s policy version 1, against `base`.
fn verify_step(runner: &Runner, repo: &TestRepo, trust: &str) -> Output {
    runner.step(repo, "run.sh", &[("INPUT_TRUST", trust), ("INPUT_BASE", "base"), ("INPUT_ARGS", "")])
}

/// The summary step appended the markdown report, and did not warn.
fn assert_summary_step_ran(runner: &Runner, stdout: &str, heading: &str) {
    assert!(!stdout.contains("::warning title=gitops-ledger::the job summary"), "{stdout}");
    let summary = runner.file("step_summary");
    assert!(summary.starts_with(heading), "{summary}");
}

#[test]
fn the_verify_step_passes_a_valid_pull_request() {
    let repo = TestRepo::landed_at_base();
    let trust = repo.trust_anchor();
    repo.promote("dev", 'b', "ci", "2026-11-28T09:00:00Z");
    let runner = installed_on(&repo);
    let out = verify_step(&runner, &repo, &trust);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains("::error"), "{stdout}");
    assert_summary_step_ran(&runner, &stdout, "### gitops-ledger: every rule holds\n");
}

#[test]
fn the_verify_step_annotates_a_deleted_landed_record_and_fails() {
    let repo = TestRepo::landed_at_base();
    let trust = repo.trust_anchor();
    repo.git(&["rm", "-q", "promotions/apps/api/00000003.json"]);
    repo.git(&["commit", "-q", "-m", "undo production"]);
    let runner = installed_on(&repo);
    let out = verify_step(&runner, &repo, &trust);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("::error file=promotions/apps/api/00000003.json"), "{stdout}");
    assert!(stdout.contains("was deleted after it landed; the ledger is append-only"), "{stdout}");
    assert_summary_step_ran(&runner, &stdout, "### gitops-ledger: 2 violations\n");
}

#[test]
fn the_verify_step_needs_the_trust_input() {
    let repo = TestRepo::landed_at_base();
    let runner = installed_on(&repo);
    let out = verify_step(&runner, &repo, "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.starts_with("error: the action's trust input is empty: set it to sha256:"),
        "{:?}",
        text(&out)
    );
}

/// Where the pre-commit test keeps what may outlive it: cargo's build
/// (CARGO_TARGET_DIR), pre-commit's cache, and the hook repo. A cold run
/// builds the crate in release mode inside pre-commit (many minutes on two
/// busy cores); a later run with the same HEAD reuses pre-commit's installed
/// hook, and one at a new HEAD rebuilds only this crate.
fn hooks_dir() -> PathBuf {
    project_dir().join("target/hooks")
}

/// A git repo holding the project at HEAD with the work tree's
/// .pre-commit-hooks.yaml committed (pre-commit try-repo reads committed files
/// only), at a fixed path and with fixed dates, so the same HEAD gives the
/// same hook repo and pre-commit's cache is reused.
fn hook_repo(repo: &TestRepo) -> PathBuf {
    let hooks = hooks_dir().join("repo");
    if hooks.exists() {
        std::fs::remove_dir_all(&hooks).unwrap();
    }
    std::fs::create_dir_all(hooks_dir()).unwrap();
    repo.git_in(&hooks_dir(), &["clone", "-q", &project_dir().display().to_string(), "repo"]);
    std::fs::copy(project_dir().join(".pre-commit-hooks.yaml"), hooks.join(".pre-commit-hooks.yaml")).unwrap();
    repo.git_in(&hooks, &["add", ".pre-commit-hooks.yaml"]);
    let identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"];
    repo.git_in(&hooks, &[&identity[..], &["commit", "-q", "--allow-empty", "-m", "hooks"]].concat());
    hooks
}

/// `pre-commit try-repo <hooks> <hook> --all-files` in `repo`; cargo and
/// rustup are found where they are, and cargo builds into target/hooks.
fn try_hook(repo: &TestRepo, hooks: &Path, hook: &str) -> Output {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let mut cmd = repo.hermetic("pre-commit");
    cmd.args(["try-repo", &hooks.display().to_string(), hook, "--all-files"])
        .env("PRE_COMMIT_HOME", hooks_dir().join("pre-commit"))
        .env("RUSTUP_HOME", std::env::var_os("RUSTUP_HOME").unwrap_or_else(|| home.join(".rustup").into()))
        .env("CARGO_HOME", std::env::var_os("CARGO_HOME").unwrap_or_else(|| home.join(".cargo").into()))
        .env("CARGO_TARGET_DIR", hooks_dir())
        // pre-commit's `cargo install` builds the release profile; how fast the
        // hook runs does not matter here, how long a cold CI build takes does.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256");
    // pyenv's shims (where pip put pre-commit) find their Python through these.
    for var in ["PYENV_ROOT", "PYENV_VERSION"] {
        if let Some(value) = std::env::var_os(var) {
            cmd.env(var, value);
        }
    }
    cmd.output().unwrap()
}

#[test]
fn pre_commit_runs_the_hooks_failing_a_deleted_landed_record_and_passing_a_valid_ledger() {
    if !tool_available("pre-commit", "pre-commit try-repo with .pre-commit-hooks.yaml") {
        return;
    }
    let valid = TestRepo::landed_at_base();
    let hooks = hook_repo(&valid);

    for hook in ["gitops-ledger-verify", "gitops-ledger-project-check"] {
        let out = try_hook(&valid, &hooks, hook);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{hook}: {stdout}{stderr}");
        assert!(stdout.contains("Passed"), "{hook}: {stdout}");
    }

    let broken = TestRepo::landed_at_base();
    broken.git(&["rm", "-q", "promotions/apps/api/00000002.json"]);
    broken.git(&["commit", "-q", "-m", "drop staging"]);
    let out = try_hook(&broken, &hooks, "gitops-ledger-verify");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("gitops-ledger verify") && stdout.contains("Failed"), "{stdout}");
    assert!(stdout.contains("- exit code: 1"), "{stdout}");
    assert!(stdout.contains("promotions/apps/api/00000003.json"), "{stdout}");
}

#[test]
fn docs_ci_shows_the_linted_example_workflow_verbatim() {
    let docs = std::fs::read_to_string(project_dir().join("docs/ci.md")).unwrap();
    let example = std::fs::read_to_string(project_dir().join("docs/examples/ledger.yml")).unwrap();
    assert!(
        docs.contains(&format!("```yaml\n{example}```\n")),
        "docs/ci.md must show docs/examples/ledger.yml as it is"
    );
    let step = "      - uses: gitops-ledger/gitops-ledger@v0.1.0\n        with:\n          trust: ${{ vars.GITOPS_LEDGER_TRUST }}\n";
    assert!(example.contains(step) && docs.contains(&format!("```yaml\n{step}```\n")), "the three-line step");
}

#[test]
fn the_manual_install_in_docs_ci_installs_the_checked_binary() {
    let docs = std::fs::read_to_string(project_dir().join("docs/ci.md")).unwrap();
    let section = &docs[docs.find("### Release archives").unwrap()..];
    let start = section.find("```sh\n").unwrap() + "```sh\n".len();
    let script = &section[start..start + section[start..].find("```").unwrap()];
    let release = "https://github.com/gitops-ledger/gitops-ledger/releases/download/v0.1.0";
    assert!(script.contains(release) && script.contains("/usr/local/bin/"), "{script}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    let script = script
        .replace(release, &file_url(release_dir()))
        .replace("/usr/local/bin/", &format!("{}/", dir.path().join("bin").display()));
    let out = Command::new("bash").args(["-euo", "pipefail", "-c", &script]).current_dir(dir.path()).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{script}\n{stdout}{stderr}");
    assert_eq!(stdout, format!("{ARCHIVE}: OK\n"));
    assert!(dir.path().join("bin/gitops-ledger").is_file());
}
