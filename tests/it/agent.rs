//! `--key FILE.pub` signs through a real ssh-agent (as git does with
//! `gpg.format ssh`): no private key on disk, the same signatures, and plain
//! errors when there is no agent or it lacks the key.

use std::path::Path;
use std::process::Output;

use crate::common::{agent_tools, digest, independent_message, succeeded, Agent, TestRepo};
use crate::interop::ssh_keygen_verify;

fn run(repo: &TestRepo, agent: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = repo.cmd();
    if let Some(socket) = agent {
        cmd.env("SSH_AUTH_SOCK", socket);
    }
    cmd.args(args).output().unwrap()
}

fn ok(repo: &TestRepo, agent: &Path, args: &[&str]) -> String {
    succeeded(args, run(repo, Some(agent), args))
}

/// Exit 2 and the whole stderr, with the temporary directories named
/// `[TMP]` and `[AGENT]` so it can be snapshotted.
fn refused(repo: &TestRepo, agent: Option<&Path>, args: &[&str]) -> String {
    let out = run(repo, agent, args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?} should exit 2; stderr:\n{stderr}");
    assert_eq!(repo.status(), "", "a refused command writes nothing");
    let mut stderr = stderr.replace(&repo.keys.parent().unwrap().display().to_string(), "[TMP]");
    if let Some(agent) = agent {
        stderr = stderr.replace(&agent.parent().unwrap().display().to_string(), "[AGENT]");
    }
    stderr
}

fn promote_args<'a>(env: &'a str, image: &'a str, key: &'a str, at: &'a str) -> Vec<&'a str> {
    vec!["promote", "--app", "api", "--env", env, "--image", image, "--key", key, "--at", at, "--commit"]
}

#[test]
fn promote_and_approve_sign_through_the_agent_with_no_private_key_on_disk() {
    if !agent_tools("promote and approve sign through a real ssh-agent") {
        return;
    }
    let repo = TestRepo::with_signed_policy();
    let agent = Agent::start();
    for name in ["ci", "alice", "bob"] {
        agent.add(&repo.key(name));
        std::fs::remove_file(repo.key(name)).unwrap();
    }
    let image = format!("ghcr.io/o/api@{}", digest('a'));
    let public = |name: &str| repo.key_str(&format!("{name}.pub"));
    let (ci, alice, bob) = (public("ci"), public("alice"), public("bob"));
    ok(&repo, &agent.socket, &promote_args("dev", &image, &ci, "2026-11-25T08:00:00Z"));
    ok(&repo, &agent.socket, &promote_args("staging", &image, &alice, "2026-11-25T09:00:00Z"));
    let waiting = ok(&repo, &agent.socket, &promote_args("production", &image, &alice, "2026-11-26T10:00:00Z"));
    assert!(waiting.contains("needs 1 more approval"), "{waiting}");
    let approved =
        ok(&repo, &agent.socket, &["approve", "api@3", "--key", &bob, "--at", "2026-11-26T11:00:00Z", "--commit"]);
    assert!(approved.contains("api@3 takes effect at 2026-11-26T11:00:00Z"), "{approved}");

    let verified = repo.ok(&["verify"]);
    assert!(verified.contains("every rule holds"), "{verified}");
    for (seq, signer) in [(1, "ci"), (2, "alice"), (3, "alice"), (4, "bob")] {
        let record = repo.read_json(&format!("promotions/apps/api/{seq:08}.json"));
        let sig = record["signatures"][0]["sig"].as_str().unwrap();
        let checked = ssh_keygen_verify(&repo, signer, "gitops-ledger", &independent_message(&record), sig);
        assert!(checked.status.success(), "api@{seq}: {}", String::from_utf8_lossy(&checked.stderr));
    }

    // ed25519 is deterministic, so the agent's record is byte for byte the
    // one the private key file makes.
    let twin = TestRepo::with_signed_policy();
    twin.ok(&promote_args("dev", &image, &twin.key_str("ci"), "2026-11-25T08:00:00Z"));
    let path = "promotions/apps/api/00000001.json";
    assert_eq!(repo.read(path), twin.read(path));
}

#[test]
fn a_public_key_without_an_agent_exits_2_saying_how_to_start_one() {
    let repo = TestRepo::with_signed_policy();
    let image = format!("ghcr.io/o/api@{}", digest('a'));
    let key = repo.key_str("ci.pub");
    let args = promote_args("dev", &image, &key, "2026-11-27T08:00:00Z");

    insta::assert_snapshot!(refused(&repo, None, &args), @"error: [TMP]/keys/ci.pub is a public key, so an ssh-agent must sign with its private half, but SSH_AUTH_SOCK is not set; start an agent and add the key: `eval $(ssh-agent)`, then `ssh-add [TMP]/keys/ci`");

    let nowhere = repo.keys.parent().unwrap().join("no-agent.sock");
    insta::assert_snapshot!(refused(&repo, Some(&nowhere), &args), @"error: cannot reach the ssh-agent at SSH_AUTH_SOCK=[TMP]/no-agent.sock to sign with [TMP]/keys/ci.pub: No such file or directory (os error 2); start an agent and add the key: `eval $(ssh-agent)`, then `ssh-add [TMP]/keys/ci`");
}

#[test]
fn an_agent_without_the_key_exits_2_naming_its_fingerprint() {
    if !agent_tools("an ssh-agent that lacks the key is reported") {
        return;
    }
    let repo = TestRepo::with_signed_policy();
    let agent = Agent::start();
    agent.add(&repo.key("alice"));
    let key = repo.key_str("ci.pub");
    let image = format!("ghcr.io/o/api@{}", digest('a'));
    let stderr = refused(&repo, Some(&agent.socket), &promote_args("dev", &image, &key, "2026-11-27T08:00:00Z"));
    insta::assert_snapshot!(stderr, @"error: the ssh-agent at [AGENT]/agent.sock does not hold the private half of [TMP]/keys/ci.pub (SHA256:r/5AtitGXS9Zbtso2MaSXeM/4Ydp06jIaDlNhE6yy/U); add it: `ssh-add [TMP]/keys/ci`");

    // The fingerprint is the one OpenSSH shows for the key.
    let listed = std::process::Command::new("ssh-keygen").args(["-l", "-E", "sha256", "-f", &key]).output().unwrap();
    let fingerprint = String::from_utf8(listed.stdout).unwrap().split_whitespace().nth(1).unwrap().to_string();
    assert!(stderr.contains(&format!("({fingerprint})")), "{fingerprint} not in:\n{stderr}");
}

#[test]
fn the_library_signs_raw_bytes_and_sshsig_through_the_agent_as_the_key_file_does() {
    if !agent_tools("raw ed25519 and SSHSIG signatures through a real ssh-agent") {
        return;
    }
    use gitops_ledger::sign::SigningKey;
    let repo = TestRepo::new();
    let agent = Agent::start();
    agent.add(&repo.key("ci"));
    let through_agent = SigningKey::load_with_agent(&repo.key("ci.pub"), None, Some(&agent.socket)).unwrap();
    assert_eq!(through_agent.agent_socket(), Some(agent.socket.as_path()));
    let file = SigningKey::load(&repo.key("ci"), None).unwrap();
    assert_eq!(file.agent_socket(), None);
    assert_eq!(through_agent.public_key().key_data(), file.public_key().key_data());
    // Debug names the file and the fingerprint, never key material or the agent's answer.
    let debug = format!("{through_agent:?}");
    assert!(debug.contains("ci.pub") && debug.contains("SHA256:"), "{debug}");

    // ed25519 is deterministic: the agent's signatures are the key file's, bit for bit.
    let payload = b"DSSEv1 28 application/vnd.in-toto+json 2 {}";
    assert_eq!(through_agent.sign_raw(payload).unwrap(), file.sign_raw(payload).unwrap());
    assert_eq!(through_agent.sign(b"message").unwrap(), file.sign(b"message").unwrap());
}
