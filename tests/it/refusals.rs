//! Everything `promote`, `approve` and `policy sign` refuse: the exit code, a
//! message naming the file/record/rule, and a work tree left exactly as it was.

use crate::common::{digest, tool_available, TestRepo};

fn image(fill: char) -> String {
    format!("ghcr.io/o/api@{}", digest(fill))
}

/// A repo where digest 'a' went dev → staging a day ago; now is 2026-11-28T10:00:00Z.
fn staged() -> TestRepo {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.promote("staging", 'a', "alice", "2026-11-27T09:00:00Z");
    repo
}

/// Asserts a refusal: exit `code`, every `needles` in the output, nothing written.
fn refused(repo: &TestRepo, code: i32, args: &[&str], needles: &[&str]) -> String {
    let head = repo.git(&["rev-parse", "HEAD"]);
    let out = repo.fails(code, args);
    for needle in needles {
        assert!(out.contains(needle), "expected {needle:?} in:\n{out}");
    }
    assert!(!out.contains("panicked"), "{out}");
    assert_eq!(repo.status(), "", "a refused command must leave the work tree as it was");
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    out
}

#[test]
fn an_app_or_env_name_outside_the_syntax_is_a_usage_error_before_any_path_is_built() {
    let repo = TestRepo::with_signed_policy();
    let key = repo.key_str("ci");
    for bad in ["../../etc", "Api", "-api", "api/x", ""] {
        let app = format!("--app={bad}");
        refused(
            &repo,
            2,
            &["promote", &app, "--env", "dev", "--image", &image('a'), "--key", &key],
            &["--app <APP>", "is not a valid name"],
        );
        // Every command that takes --app parses it the same way.
        refused(
            &repo,
            2,
            &["evidence", &app, "--env", "dev", "--type", "smoke", "--result", "pass", "--key", &key],
            &["--app <APP>", "is not a valid name"],
        );
    }
    refused(
        &repo,
        2,
        &["promote", "--app", "api", "--env", "../prod", "--image", &image('a'), "--key", &key],
        &["--env"],
    );
}

#[test]
fn an_environment_missing_from_the_policy_is_refused() {
    let repo = TestRepo::with_signed_policy();
    refused(
        &repo,
        1,
        &["promote", "--app", "api", "--env", "qa", "--image", &image('a'), "--key", &repo.key_str("ci")],
        &["environment qa is not in policy version 1 (environments: dev, staging, production)", "(rule: policy)"],
    );
}

#[test]
fn a_signer_not_allowed_for_the_environment_is_refused() {
    let repo = staged();
    refused(
        &repo,
        1,
        &["promote", "--app", "api", "--env", "staging", "--image", &image('a'), "--key", &repo.key_str("ci")],
        &["promotions/apps/api/00000003.json (api@3): ci may not sign for staging (policy version 1 allows alice, bob, carol) (rule: signature)"],
    );
    refused(&repo, 1, &["approve", "api@2", "--key", &repo.key_str("ci")], &["ci may not sign for staging"]);
}

#[test]
fn a_production_digest_that_skipped_staging_is_refused() {
    let repo = staged();
    refused(
        &repo,
        1,
        &["promote", "--app", "api", "--env", "production", "--image", &image('b'), "--key", &repo.key_str("alice")],
        &["(api@3): production digest sha256:bbbbbbbbbbbb (ghcr.io/o/api) was never promoted to staging; promote it to staging first (rule: provenance)"],
    );
}

#[test]
fn a_promotion_before_the_soak_has_elapsed_is_refused() {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-28T08:00:00Z");
    repo.promote("staging", 'a', "alice", "2026-11-28T09:00:00Z");
    refused(
        &repo,
        1,
        &["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice")],
        &["entered staging at 2026-11-28T09:00:00Z, less than the 24h soak before 2026-11-28T10:00:00Z; promote at 2026-11-29T09:00:00Z or later (rule: soak)"],
    );
}

#[test]
fn a_promotion_inside_a_freeze_window_is_refused_but_an_allowed_rollback_lands() {
    let repo = TestRepo::new();
    repo.init_policy(|policy| {
        policy["environments"][0]["freeze"] = serde_json::json!([
            {"start": "2026-11-28T00:00:00Z", "end": "2026-11-29T00:00:00Z", "allow_rollback": true}
        ]);
    });
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.promote("dev", 'b', "ci", "2026-11-27T09:00:00Z");
    refused(
        &repo,
        1,
        &["promote", "--app", "api", "--env", "dev", "--image", &image('c'), "--key", &repo.key_str("ci")],
        &["dev is frozen from 2026-11-28T00:00:00Z until 2026-11-29T00:00:00Z (policy version 1); only rollbacks may land (rule: freeze)"],
    );
    let out = repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--rollback",
        "--image",
        &image('a'),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    assert!(out.contains("(api@3)"), "{out}");
    assert_eq!(repo.git(&["log", "-1", "--format=%s"]).trim(), "chore(dev): rollback api to sha256:aaaaaaaaaaaa");
}

#[test]
fn a_rollback_to_a_digest_the_environment_never_ran_is_refused() {
    let repo = staged();
    refused(
        &repo,
        1,
        &[
            "promote",
            "--app",
            "api",
            "--env",
            "staging",
            "--rollback",
            "--image",
            &image('b'),
            "--key",
            &repo.key_str("alice"),
        ],
        &["rollback to sha256:bbbbbbbbbbbb (ghcr.io/o/api), which staging never ran", "(rule: rollback)"],
    );
    refused(
        &repo,
        2,
        &["promote", "--app", "api", "--env", "staging", "--rollback", "--key", &repo.key_str("alice")],
        &["--rollback needs --image"],
    );
}

#[test]
fn a_forward_dated_record_is_refused() {
    let repo = TestRepo::with_signed_policy();
    refused(
        &repo,
        1,
        &[
            "promote",
            "--app",
            "api",
            "--env",
            "dev",
            "--image",
            &image('a'),
            "--key",
            &repo.key_str("ci"),
            "--at",
            "2026-11-28T10:06:00Z",
        ],
        &["at 2026-11-28T10:06:00Z is in the future (now is 2026-11-28T10:00:00Z)", "(rule: chain)"],
    );
}

#[test]
fn approve_refuses_a_complete_record_and_a_second_signature_by_one_signer() {
    let repo = staged();
    refused(
        &repo,
        1,
        &["approve", "api@2", "--key", &repo.key_str("bob")],
        &["approves api@2, which is complete: it took effect at 2026-11-27T09:00:00Z (rule: approval)"],
    );
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "production",
        "--key",
        &repo.key_str("alice"),
        "--at",
        "2026-11-28T09:30:00Z",
        "--commit",
    ]);
    refused(
        &repo,
        1,
        &["approve", "api@3", "--key", &repo.key_str("alice")],
        &["alice already signed api@3; a signer counts once (rule: signature)"],
    );
    refused(&repo, 2, &["approve", "api@9", "--key", &repo.key_str("alice")], &["api@9 does not exist"]);
    refused(&repo, 2, &["approve", "api", "--key", &repo.key_str("alice")], &["APP@SEQ"]);
}

#[test]
fn appending_under_an_unsigned_or_gapped_policy_is_refused() {
    let repo = TestRepo::new();
    repo.ok(&[
        "init",
        "--key",
        &format!("ci={}", repo.key_str("ci.pub")),
        "--key",
        &format!("alice={}", repo.key_str("alice.pub")),
        "--ci",
        "ci",
    ]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "unsigned policy"]);
    refused(
        &repo,
        1,
        &["promote", "--app", "api", "--env", "dev", "--image", &image('a'), "--key", &repo.key_str("ci")],
        &["policy version 1 needs 1 more signature(s) from its root signers alice; run `gitops-ledger policy sign`"],
    );

    let repo = TestRepo::with_signed_policy();
    let mut v3 = repo.read_json("promotions/policy/00000001.json");
    v3["version"] = 3.into();
    repo.write("promotions/policy/00000003.json", &serde_json::to_string_pretty(&v3).unwrap());
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "gap"]);
    refused(
        &repo,
        1,
        &["promote", "--app", "api", "--env", "dev", "--image", &image('a'), "--key", &repo.key_str("ci")],
        &["promotions/policy/00000003.json", "policy versions jump from 1 to 3"],
    );
}

#[test]
fn a_malformed_record_in_the_chain_is_named_and_blocks_appending() {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    for junk in ["{\"schema\": ", "\u{0}\u{1}binary", "[1, 2, 3]", "{}"] {
        repo.write("promotions/apps/api/00000002.json", junk);
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "junk"]);
        refused(
            &repo,
            1,
            &["promote", "--app", "api", "--env", "dev", "--image", &image('b'), "--key", &repo.key_str("ci")],
            &["promotions/apps/api/00000002.json: not a valid promotion record", "(rule: schema)"],
        );
    }
}

#[test]
fn image_arguments_must_name_a_digest_never_a_tag() {
    let repo = TestRepo::with_signed_policy();
    let key = repo.key_str("ci");
    let promote = |image: &str| {
        vec!["promote", "--app", "api", "--env", "dev", "--image", image, "--key", &key]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let cases = [
        ("ghcr.io/o/api:v1.2.3".to_string(), "no digest"),
        ("ghcr.io/o/api@v1.2.3".to_string(), "is not an image digest"),
        ("ghcr.io/o/api@sha256:abc123".to_string(), "is not an image digest"),
        (format!("ghcr.io/o/api@sha256:{}", "A".repeat(64)), "lower-case hex"),
        (format!("ghcr.io/o/api:v1@{}", digest('a')), "the name carries a tag"),
        (format!("GHCR.io/o/api@{}", digest('a')), "is not an image name"),
        (format!("ghcr.io/o/api.*@{}", digest('a')), "is not an image name"),
        (format!("ghcr.io/o/api@{}=bad tag", digest('a')), "is not a tag"),
    ];
    for (image, needle) in cases {
        let args = promote(&image);
        refused(&repo, 2, &args.iter().map(String::as_str).collect::<Vec<_>>(), &[needle]);
    }
}

#[test]
fn key_problems_are_usage_errors_that_name_the_key() {
    let repo = TestRepo::with_signed_policy();
    let promote = |key: &str, extra: &[&str]| {
        let mut args = vec!["promote", "--app", "api", "--env", "dev", "--image"];
        let image = image('a');
        let mut owned: Vec<String> = args.drain(..).map(String::from).collect();
        owned.push(image);
        owned.extend(["--key".to_string(), key.to_string()]);
        owned.extend(extra.iter().map(|s| s.to_string()));
        owned
    };
    let run = |args: Vec<String>, needles: &[&str]| {
        refused(&repo, 2, &args.iter().map(String::as_str).collect::<Vec<_>>(), needles);
    };
    let missing = repo.keys.join("nobody").display().to_string();
    run(promote(&missing, &[]), &["cannot read key file", "nobody"]);
    let junk = repo.keys.join("junk");
    std::fs::write(&junk, "not a key\n").unwrap();
    run(promote(&junk.display().to_string(), &[]), &["is neither an OpenSSH private key", "nor a public key line"]);
    // A public key signs through the agent, and there is none here (tests/it/agent.rs has the rest).
    run(promote(&repo.key_str("ci.pub"), &[]), &["ci.pub is a public key", "SSH_AUTH_SOCK is not set"]);
    run(
        promote(&repo.key_str("ci"), &["--signer", "dave"]),
        &["signer dave is not in policy version 1; known signers: alice, bob, carol, ci"],
    );
    run(promote(&repo.key_str("ci"), &["--signer", "alice"]), &["is not the key policy version 1 gives alice"]);

    if !tool_available("ssh-keygen", "ecdsa and encrypted keys made by ssh-keygen are refused with the reason") {
        return;
    }
    let keygen = |args: &[&str]| {
        let status = std::process::Command::new("ssh-keygen").args(args).output().unwrap();
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    };
    let ecdsa = repo.keys.join("ecdsa").display().to_string();
    keygen(&["-q", "-t", "ecdsa", "-N", "", "-f", &ecdsa]);
    run(promote(&ecdsa, &[]), &["is a ecdsa-sha2-nistp256 key; gitops-ledger signs with ssh-ed25519 keys only"]);
    // Its public half is refused the same way, before any agent is looked for.
    let ecdsa_pub = format!("{ecdsa}.pub");
    run(promote(&ecdsa_pub, &[]), &["is a ecdsa-sha2-nistp256 key; gitops-ledger signs with ssh-ed25519 keys only"]);

    let encrypted = repo.keys.join("encrypted").display().to_string();
    keygen(&["-q", "-t", "ed25519", "-N", "correct horse", "-f", &encrypted]);
    run(promote(&encrypted, &[]), &["encrypted", "set GITOPS_LEDGER_PASSPHRASE"]);
    // With the passphrase the key opens, and the next problem is that the policy does not know it.
    let head = repo.git(&["rev-parse", "HEAD"]);
    let out =
        repo.cmd().env("GITOPS_LEDGER_PASSPHRASE", "correct horse").args(promote(&encrypted, &[])).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not in policy version 1; add it to the policy's keys"));
    let wrong = repo.cmd().env("GITOPS_LEDGER_PASSPHRASE", "wrong").args(promote(&encrypted, &[])).output().unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("cannot decrypt"));
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(repo.status(), "");
}

#[test]
fn policy_sign_refuses_non_root_signers_and_double_signatures() {
    let repo = TestRepo::with_signed_policy();
    refused(&repo, 1, &["policy", "sign", "--key", &repo.key_str("ci")], &["ci is not a root signer"]);
    refused(&repo, 1, &["policy", "sign", "--key", &repo.key_str("alice")], &["alice already signed policy version 1"]);
}
