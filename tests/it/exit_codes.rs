//! Every row of every command's exit-code table (declared beside its clap
//! definition, shown by `--help`, rendered in docs/cli.md) is run here as a
//! real scenario on a real repo, and the scenarios cover exactly the rows.

use std::collections::BTreeSet;
use std::fs::File;

use gitops_ledger::cli::{exit_codes, ExitCodeRow};

use crate::common::{digest, Forged, TestRepo};

/// One way to get `code` out of `command`.
struct Scenario {
    command: &'static str,
    code: u8,
    /// Something the output must say, so the code comes for the reason the row gives.
    says: &'static str,
    setup: fn() -> Setup,
}

/// A repo, the arguments to run in it, and a write lock held while they run.
struct Setup {
    repo: TestRepo,
    args: Vec<String>,
    _lock: Option<File>,
}

fn run<S: AsRef<str>>(repo: TestRepo, args: &[S]) -> Setup {
    Setup { repo, args: args.iter().map(|arg| arg.as_ref().to_string()).collect(), _lock: None }
}

/// As [`run`], while another process would hold the write lock.
fn run_locked<S: AsRef<str>>(repo: TestRepo, args: &[S]) -> Setup {
    Setup { _lock: Some(repo.hold_write_lock()), ..run(repo, args) }
}

/// `promote` of api's image `fill` to `env`, signed with `key`.
fn promote(repo: &TestRepo, env: &str, fill: char, key: &str) -> Vec<String> {
    let image = format!("ghcr.io/o/api@{}", digest(fill));
    ["promote", "--app", "api", "--env", env, "--image", &image, "--key", &repo.key_str(key)].map(String::from).to_vec()
}

/// `evidence` of a passed smoke test for what dev runs, signed with ci's key.
fn smoke_test(repo: &TestRepo) -> Vec<String> {
    let key = repo.key_str("ci");
    let args = ["evidence", "--app", "api", "--env", "dev", "--type", "smoke-test", "--result", "pass", "--key", &key];
    args.map(String::from).to_vec()
}

/// `init` with alice (the one root signer) and ci (the bot), not signed yet.
fn unsigned() -> TestRepo {
    let repo = TestRepo::new();
    let (alice, ci) = (format!("alice={}", repo.key_str("alice.pub")), format!("ci={}", repo.key_str("ci.pub")));
    repo.ok(&["init", "--key", &alice, "--key", &ci, "--ci", "ci"]);
    repo
}

/// As [`promoted`], under a policy that lets ci sign evidence for dev.
fn promoted_with_dev_evidence() -> TestRepo {
    let repo = TestRepo::new();
    repo.init_policy(|policy| policy["environments"][0]["evidence_signers"] = serde_json::json!(["ci"]));
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo
}

/// api runs digest a in dev.
fn promoted() -> TestRepo {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo
}

/// api@3 promotes digest a to production, signed by alice: one approval short.
fn pending() -> TestRepo {
    let repo = promoted();
    repo.promote("staging", 'a', "alice", "2026-11-27T09:00:00Z");
    repo.ok(&["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice"), "--commit"]);
    repo
}

/// api@2, written past `promote`'s checks, sends to staging a digest dev never ran.
fn broken() -> TestRepo {
    let repo = promoted();
    repo.forge(Forged::new(2, "staging", 'b', "2026-11-27T09:00:00Z", &["alice"]));
    repo.project();
    repo
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        command: "keygen",
        code: 0,
        says: ".pub",
        setup: || {
            let repo = TestRepo::new();
            let file = repo.keys.join("dave").display().to_string();
            run(repo, &["keygen", &file, "--comment", "dave"])
        },
    },
    Scenario {
        command: "keygen",
        code: 2,
        says: "keygen never overwrites a key",
        setup: || {
            let repo = TestRepo::new();
            let file = repo.key_str("alice");
            run(repo, &["keygen", &file])
        },
    },
    Scenario {
        command: "init",
        code: 0,
        says: "(unsigned template)",
        setup: || {
            let repo = TestRepo::new();
            let key = format!("alice={}", repo.key_str("alice.pub"));
            run(repo, &["init", "--key", &key])
        },
    },
    Scenario {
        command: "init",
        code: 1,
        says: "another gitops-ledger command is writing to this repo",
        setup: || {
            let repo = TestRepo::new();
            let key = format!("alice={}", repo.key_str("alice.pub"));
            run_locked(repo, &["init", "--key", &key])
        },
    },
    Scenario {
        command: "init",
        code: 2,
        says: "already exists; this repo has a ledger",
        setup: || {
            let repo = TestRepo::with_signed_policy();
            let key = format!("alice={}", repo.key_str("alice.pub"));
            run(repo, &["init", "--key", &key])
        },
    },
    Scenario {
        command: "policy sign",
        code: 0,
        says: "signed promotions/policy/00000001.json",
        setup: || {
            let repo = unsigned();
            let key = repo.key_str("alice");
            run(repo, &["policy", "sign", "--key", &key])
        },
    },
    Scenario {
        command: "policy sign",
        code: 1,
        says: "alice already signed policy version 1",
        setup: || {
            let repo = TestRepo::with_signed_policy();
            let key = repo.key_str("alice");
            run(repo, &["policy", "sign", "--key", &key])
        },
    },
    Scenario {
        command: "policy sign",
        code: 2,
        says: "there is no policy to sign",
        setup: || {
            let repo = TestRepo::new();
            let key = repo.key_str("alice");
            run(repo, &["policy", "sign", "--key", &key])
        },
    },
    Scenario {
        command: "policy new",
        code: 0,
        says: "wrote promotions/policy/00000002.json",
        setup: || run(TestRepo::with_signed_policy(), &["policy", "new"]),
    },
    Scenario {
        command: "policy new",
        code: 1,
        says: "refused, nothing was written",
        setup: || run(unsigned(), &["policy", "new"]),
    },
    Scenario {
        command: "policy new",
        code: 1,
        says: "there is no policy version 1",
        setup: || run(TestRepo::new(), &["policy", "new"]),
    },
    Scenario {
        command: "policy new",
        code: 2,
        says: "unexpected argument '--version-number'",
        setup: || run(TestRepo::with_signed_policy(), &["policy", "new", "--version-number", "3"]),
    },
    Scenario {
        command: "promote",
        code: 0,
        says: "wrote promotions/apps/api/00000001.json",
        setup: || {
            let repo = TestRepo::with_signed_policy();
            let args = promote(&repo, "dev", 'a', "ci");
            run(repo, &args)
        },
    },
    Scenario {
        command: "promote",
        code: 0,
        says: "production needs 1 more approval",
        setup: || {
            let repo = promoted();
            repo.promote("staging", 'a', "alice", "2026-11-27T09:00:00Z");
            let key = repo.key_str("alice");
            run(repo, &["promote", "--app", "api", "--env", "production", "--key", &key])
        },
    },
    Scenario {
        command: "promote",
        code: 1,
        says: "promotions/apps/api/00000001.json (api@1): ",
        setup: || {
            let repo = TestRepo::with_signed_policy();
            let args = promote(&repo, "staging", 'a', "alice");
            run(repo, &args)
        },
    },
    Scenario {
        command: "promote",
        code: 1,
        says: "another gitops-ledger command is writing to this repo",
        setup: || {
            let repo = TestRepo::with_signed_policy();
            let args = promote(&repo, "dev", 'a', "ci");
            run_locked(repo, &args)
        },
    },
    Scenario {
        command: "promote",
        code: 2,
        says: "cannot read key file",
        setup: || {
            let repo = TestRepo::with_signed_policy();
            let args = promote(&repo, "dev", 'a', "nobody");
            run(repo, &args)
        },
    },
    Scenario {
        command: "approve",
        code: 0,
        says: "production: every threshold met",
        setup: || {
            let repo = pending();
            let key = repo.key_str("bob");
            run(repo, &["approve", "api@3", "--key", &key])
        },
    },
    Scenario {
        command: "approve",
        code: 1,
        says: "alice already signed api@3",
        setup: || {
            let repo = pending();
            let key = repo.key_str("alice");
            run(repo, &["approve", "api@3", "--key", &key])
        },
    },
    Scenario {
        command: "approve",
        code: 2,
        says: "api@9 does not exist",
        setup: || {
            let repo = pending();
            let key = repo.key_str("bob");
            run(repo, &["approve", "api@9", "--key", &key])
        },
    },
    Scenario {
        command: "attest",
        code: 0,
        says: "GITOPS_LEDGER_ENV_DEV",
        setup: || run(promoted(), &["attest", "--app", "api", "--env", "dev", "--predicate-only"]),
    },
    Scenario {
        command: "attest",
        code: 1,
        says: "production runs nothing of api yet",
        setup: || run(promoted(), &["attest", "--app", "api", "--env", "production", "--predicate-only"]),
    },
    Scenario {
        command: "attest",
        code: 2,
        says: "is not an environment of the newest policy",
        setup: || run(promoted(), &["attest", "--app", "api", "--env", "qa", "--predicate-only"]),
    },
    Scenario {
        command: "evidence",
        code: 0,
        says: "smoke-test pass for what dev runs",
        setup: || {
            let repo = promoted_with_dev_evidence();
            let args = smoke_test(&repo);
            run(repo, &args)
        },
    },
    Scenario {
        command: "evidence",
        code: 1,
        says: "dev runs nothing of api yet",
        setup: || {
            let repo = TestRepo::with_signed_policy();
            let args = smoke_test(&repo);
            run(repo, &args)
        },
    },
    Scenario {
        command: "evidence",
        code: 2,
        says: "cannot read",
        setup: || {
            let repo = promoted_with_dev_evidence();
            let args = [smoke_test(&repo), vec!["--report".into(), "missing.xml".into()]].concat();
            run(repo, &args)
        },
    },
    Scenario {
        command: "project",
        code: 0,
        says: "projected files already match the ledger",
        setup: || run(promoted(), &["project"]),
    },
    Scenario {
        command: "project",
        code: 1,
        says: "drift: ",
        setup: || {
            let repo = TestRepo::with_signed_policy();
            let args = [promote(&repo, "dev", 'a', "ci"), vec!["--no-project".into()]].concat();
            repo.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
            run(repo, &["project", "--check"])
        },
    },
    Scenario {
        command: "project",
        code: 1,
        says: "another gitops-ledger command is writing to this repo",
        setup: || run_locked(promoted(), &["project"]),
    },
    Scenario {
        command: "project",
        code: 1,
        says: "there is no policy version 1",
        setup: || run(TestRepo::new(), &["project"]),
    },
    Scenario {
        command: "project",
        code: 2,
        says: "versions.json is a symlink or special file",
        setup: || {
            let repo = promoted();
            std::fs::remove_file(repo.root.join("versions.json")).unwrap();
            std::fs::create_dir(repo.root.join("versions.json")).unwrap();
            run(repo, &["project"])
        },
    },
    Scenario { command: "status", code: 0, says: "api@1", setup: || run(promoted(), &["status"]) },
    Scenario {
        command: "status",
        code: 2,
        says: "invalid value 'yesterday'",
        setup: || run(promoted(), &["status", "--at", "yesterday"]),
    },
    Scenario { command: "log", code: 0, says: "api@1", setup: || run(promoted(), &["log"]) },
    Scenario {
        command: "log",
        code: 2,
        says: "invalid value 'last week'",
        setup: || run(promoted(), &["log", "--since", "last week"]),
    },
    Scenario { command: "replay", code: 0, says: "[fail]", setup: || run(broken(), &["replay"]) },
    Scenario {
        command: "replay",
        code: 2,
        says: "invalid value 'soon'",
        setup: || run(promoted(), &["replay", "--until", "soon"]),
    },
    Scenario { command: "stats", code: 0, says: "overall:", setup: || run(promoted(), &["stats"]) },
    Scenario {
        command: "stats",
        code: 2,
        says: "there is no policy, so no production environment",
        setup: || run(TestRepo::new(), &["stats"]),
    },
    Scenario { command: "audit", code: 0, says: "ok: ", setup: || run(promoted(), &["audit"]) },
    Scenario {
        command: "audit",
        code: 1,
        says: "versions.json: the entry for api is not what the ledger at this commit projects",
        setup: || {
            let repo = promoted();
            repo.write("versions.json", &repo.read("versions.json").replace(&digest('a'), &digest('f')));
            repo.git(&["commit", "-qam", "hotfix by hand"]);
            run(repo, &["audit"])
        },
    },
    Scenario {
        command: "audit",
        code: 2,
        says: "no-such-branch",
        setup: || run(promoted(), &["audit", "--rev", "no-such-branch"]),
    },
    Scenario {
        command: "report",
        code: 0,
        says: "wrote report.html",
        setup: || run(broken(), &["report", "--out", "report.html"]),
    },
    Scenario {
        command: "report",
        code: 2,
        says: "cannot write missing-dir/report.html",
        setup: || run(promoted(), &["report", "--out", "missing-dir/report.html"]),
    },
    Scenario { command: "verify", code: 0, says: "every rule holds", setup: || run(promoted(), &["verify"]) },
    Scenario {
        command: "verify",
        code: 0,
        says: "1 record pending approval (not a failure)",
        setup: || run(pending(), &["verify"]),
    },
    Scenario { command: "verify", code: 1, says: "(rule: provenance)", setup: || run(broken(), &["verify"]) },
    Scenario {
        command: "verify",
        code: 2,
        says: "no-such-branch",
        setup: || run(promoted(), &["verify", "--rev", "no-such-branch"]),
    },
    Scenario {
        command: "completions",
        code: 0,
        says: "complete -F _gitops__ledger",
        setup: || run(TestRepo::new(), &["completions", "bash"]),
    },
    Scenario {
        command: "completions",
        code: 2,
        says: "invalid value 'tcsh'",
        setup: || run(TestRepo::new(), &["completions", "tcsh"]),
    },
    Scenario { command: "man", code: 0, says: ".TH gitops-ledger 1", setup: || run(TestRepo::new(), &["man"]) },
    Scenario {
        command: "man",
        code: 2,
        says: "unexpected argument 'promote'",
        setup: || run(TestRepo::new(), &["man", "promote"]),
    },
];

/// Runs one scenario; what went wrong, if anything.
fn check(scenario: &Scenario) -> Option<String> {
    let Setup { repo, args, _lock } = (scenario.setup)();
    let name = format!("{} exits {}: `gitops-ledger {}`", scenario.command, scenario.code, args.join(" "));
    if !args.join(" ").starts_with(scenario.command) {
        return Some(format!("{name}: runs another command"));
    }
    let out = repo.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.code() != Some(i32::from(scenario.code)) {
        return Some(format!("{name}: exited {:?}\n{text}", out.status.code()));
    }
    if !text.contains(scenario.says) {
        return Some(format!("{name}: does not say {:?}\n{text}", scenario.says));
    }
    None
}

#[test]
fn every_exit_code_in_the_tables_has_a_scenario_and_every_scenario_a_row() {
    let rows: BTreeSet<(String, u8)> = exit_codes().into_iter().map(|row| (row.command, row.code)).collect();
    let covered: BTreeSet<(String, u8)> = SCENARIOS.iter().map(|s| (s.command.to_string(), s.code)).collect();
    let untested: Vec<_> = rows.difference(&covered).collect();
    let undeclared: Vec<_> = covered.difference(&rows).collect();
    assert!(
        untested.is_empty() && undeclared.is_empty(),
        "rows without a scenario: {untested:?}; scenarios for codes no table lists: {undeclared:?}"
    );
}

#[test]
fn every_exit_code_scenario_exits_with_its_code() {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
    let chunk = SCENARIOS.len().div_ceil(workers);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = SCENARIOS
            .chunks(chunk)
            .map(|scenarios| scope.spawn(move || scenarios.iter().filter_map(check).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_command_declares_its_exit_codes_with_0_and_2_ascending() {
    let rows = exit_codes();
    let mut command = gitops_ledger::cli::command();
    command.build();
    let mut leaves = Vec::new();
    let mut stack: Vec<(String, &clap::Command)> = vec![(String::new(), &command)];
    while let Some((path, cmd)) = stack.pop() {
        let children: Vec<_> = cmd.get_subcommands().filter(|c| c.get_name() != "help").collect();
        if children.is_empty() {
            leaves.push(path.clone());
        }
        for child in children {
            stack.push((format!("{path} {}", child.get_name()).trim_start().to_string(), child));
        }
    }
    for leaf in leaves {
        let codes: Vec<u8> = rows.iter().filter(|r| r.command == leaf).map(|r| r.code).collect();
        assert_eq!(codes.first(), Some(&0), "{leaf}: {codes:?}");
        assert_eq!(codes.last(), Some(&2), "{leaf}: clap rejects a bad flag with 2: {codes:?}");
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "{leaf}: {codes:?}");
    }
    let meanings: Vec<&ExitCodeRow> = rows.iter().filter(|r| r.meaning.trim().is_empty()).collect();
    assert!(meanings.is_empty(), "{meanings:?}");
}

#[test]
fn help_ends_with_the_same_exit_codes() {
    let repo = TestRepo::new();
    let rows = exit_codes();
    let commands: BTreeSet<&str> = rows.iter().map(|row| row.command.as_str()).collect();
    for command in commands {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let help = repo.ok(&args);
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let section = words(help.split_once("Exit codes:").map_or("", |(_, section)| section));
        let listed: Vec<String> = rows
            .iter()
            .filter(|row| row.command == command)
            .map(|row| words(&format!("{} {}", row.code, row.meaning)))
            .collect();
        assert_eq!(section, listed.join(" "), "`{command} --help`:\n{help}");
    }
}
