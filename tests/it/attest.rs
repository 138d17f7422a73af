//! `attest`: a DSSE envelope of an in-toto statement with a SLSA VSA 1.0
//! predicate about what an environment runs, checked by securesystemslib and
//! the in-toto-attestation bindings (tests/it/attest_check.py).

use std::path::Path;

use serde_json::Value;

use crate::common::{agent_tools, digest, independent_id, tool_available, Agent, Forged, TestRepo};

/// The statement inside an envelope.
fn statement(envelope: &str) -> Value {
    use ssh_encoding::base64::{Base64, Encoding};
    let envelope: Value = serde_json::from_str(envelope).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let payload = Base64::decode_vec(envelope["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// The subjects an environment's entry in versions.json names: image → sha256 hex.
fn versions_subjects(repo: &TestRepo, env: &str) -> Value {
    let versions = repo.read_json("versions.json");
    let images = versions["apps"]["api"][env]["images"].as_object().unwrap();
    let subjects: Vec<Value> = images
        .iter()
        .map(|(name, digest)| {
            let hex = digest.as_str().unwrap().strip_prefix("sha256:").unwrap();
            serde_json::json!({"name": name, "digest": {"sha256": hex}})
        })
        .collect();
    Value::Array(subjects)
}

/// The id (hex) of a record file, computed independently of the binary.
fn record_id_hex(repo: &TestRepo, path: &str) -> String {
    independent_id(&repo.read_json(path)).strip_prefix("sha256:").unwrap().to_string()
}

/// `attest` of what production runs, signed with carol's key, to `out`.
fn signed_by_carol_to(repo: &TestRepo, out: &Path) -> Vec<String> {
    let (key, out) = (repo.key_str("carol"), out.display().to_string());
    ["attest", "--app", "api", "--env", "production", "--key", &key, "--out", &out].map(String::from).to_vec()
}

/// Runs the independent checker on `envelope`: signed by `signer`, not by `other`.
fn external_check(repo: &TestRepo, envelope: &Path, signer: &str, other: &str) -> String {
    assert!(tool_available("python3", "securesystemslib and in-toto-attestation check the envelope"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/attest_check.py");
    let out = repo
        .hermetic("python3")
        .arg(script)
        .arg(envelope)
        .arg(repo.key(&format!("{signer}.pub")))
        .arg(repo.key(&format!("{other}.pub")))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the checker refused the envelope:\n{text}");
    text.lines().last().unwrap_or_default().to_string()
}

#[test]
fn the_subjects_are_what_versions_json_says_production_runs_and_the_inputs_are_the_record_ids() {
    let repo = TestRepo::with_landed_records();
    let out = repo.ok(&["attest", "--app", "api", "--env", "production", "--key", &repo.key_str("carol")]);
    let statement = statement(&out);
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/verification_summary/v1");
    assert_eq!(statement["subject"], versions_subjects(&repo, "production"));
    let record = "promotions/apps/api/00000003.json";
    assert_eq!(
        statement["predicate"]["inputAttestations"],
        serde_json::json!([{"uri": record, "digest": {"sha256": record_id_hex(&repo, record)}}])
    );
    let policy = "promotions/policy/00000001.json";
    assert_eq!(
        statement["predicate"]["policy"],
        serde_json::json!({"uri": policy, "digest": {"sha256": independent_id(&repo.read_json(policy)).strip_prefix("sha256:").unwrap()}})
    );
    assert_eq!(statement["predicate"]["verifiedLevels"], serde_json::json!(["GITOPS_LEDGER_ENV_PRODUCTION"]));
}

#[test]
fn a_multi_image_app_names_every_image_and_each_record_that_set_one() {
    let repo = TestRepo::with_signed_policy();
    let image = |name: &str, fill: char| format!("ghcr.io/o/{name}@{}", digest(fill));
    let ci = repo.key_str("ci");
    let promote = |images: &[String], at: &str| {
        let mut args = vec!["promote", "--app", "api", "--env", "dev", "--key", &ci, "--at", at];
        for image in images {
            args.extend(["--image", image]);
        }
        repo.ok(&args);
    };
    promote(&[image("api", 'a'), image("sidecar", 'b')], "2026-11-25T08:00:00Z");
    // Only the sidecar moves: the api image stays as record 1 set it.
    promote(&[image("sidecar", 'c')], "2026-11-25T09:00:00Z");
    let out = repo.ok(&["attest", "--app", "api", "--env", "dev", "--key", &repo.key_str("carol")]);
    let statement = statement(&out);
    assert_eq!(statement["subject"].as_array().unwrap().len(), 2);
    assert_eq!(statement["subject"], versions_subjects(&repo, "dev"));
    let inputs: Vec<Value> = ["promotions/apps/api/00000001.json", "promotions/apps/api/00000002.json"]
        .iter()
        .map(|path| serde_json::json!({"uri": path, "digest": {"sha256": record_id_hex(&repo, path)}}))
        .collect();
    assert_eq!(statement["predicate"]["inputAttestations"], Value::Array(inputs));
    assert_eq!(statement["predicate"]["verifiedLevels"], serde_json::json!(["GITOPS_LEDGER_ENV_DEV"]));
}

#[test]
fn securesystemslib_accepts_the_signature_with_the_verifiers_key_and_rejects_another() {
    let repo = TestRepo::with_landed_records();
    let envelope = repo.root.join("production.intoto.json");
    let args = signed_by_carol_to(&repo, &envelope);
    let out = repo.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.starts_with("wrote "), "{out}");
    let verdict = external_check(&repo, &envelope, "carol", "alice");
    assert_eq!(verdict, "accepted by carol.pub's key, rejected by alice.pub's key; statement and predicate valid");

    // The predicate alone, as cosign takes it, is a valid VSA too.
    repo.ok(&["attest", "--app", "api", "--env", "production", "--predicate-only", "--out", "vsa.json"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/attest_check.py");
    let out = repo.hermetic("python3").arg(script).arg("--predicate").arg(repo.root.join("vsa.json")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.lines().last(), Some("predicate valid"));
}

#[test]
fn an_envelope_signed_through_the_ssh_agent_is_accepted_the_same() {
    if !agent_tools("attest signs through a real ssh-agent") {
        return;
    }
    let repo = TestRepo::with_landed_records();
    let agent = Agent::start();
    agent.add(&repo.key("carol"));
    let envelope = repo.root.join("production.intoto.json");
    let public = repo.key_str("carol.pub");
    let args = ["attest", "--app", "api", "--env", "production", "--key", &public, "--out", "production.intoto.json"];
    let out = repo.cmd().env("SSH_AUTH_SOCK", &agent.socket).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The agent's ed25519 signature is deterministic: the same bytes as from the key file.
    let from_file = repo.ok(&["attest", "--app", "api", "--env", "production", "--key", &repo.key_str("carol")]);
    assert_eq!(std::fs::read_to_string(&envelope).unwrap(), from_file);
    let verdict = external_check(&repo, &envelope, "carol", "bob");
    assert_eq!(verdict, "accepted by carol.pub's key, rejected by bob.pub's key; statement and predicate valid");
}

#[test]
fn a_chain_that_fails_verification_gets_no_file_and_exit_1() {
    let repo = TestRepo::with_landed_records();
    // A landed record rewritten after signing: its signatures no longer hold.
    repo.edit_json("promotions/apps/api/00000002.json", |r| r["at"] = "2026-11-25T09:30:00Z".into());
    let out_path = repo.root.join("production.intoto.json");
    let args = signed_by_carol_to(&repo, &out_path);
    let out = repo.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(!out_path.exists(), "a refused attest writes nothing");
    assert!(stderr.starts_with("error: refused, nothing written: "), "{stderr}");
    assert!(stderr.contains("in the policies or api's chain"), "{stderr}");
    assert!(stderr.contains("promotions/apps/api/00000002.json"), "{stderr}");
    // The predicate alone is refused the same.
    let out = repo.fails(1, &["attest", "--app", "api", "--env", "production", "--predicate-only"]);
    assert!(out.contains("refused, nothing written"), "{out}");
}

#[test]
fn another_apps_broken_chain_does_not_block_the_attestation() {
    let repo = TestRepo::with_landed_records();
    repo.forge(Forged { app: "web", ..Forged::new(1, "dev", 'b', "2026-11-25T08:00:00Z", &["ci"]) });
    repo.edit_json("promotions/apps/web/00000001.json", |r| r["at"] = "2026-11-25T08:30:00Z".into());
    repo.fails(1, &["verify"]);
    let out = repo.ok(&["attest", "--app", "api", "--env", "production", "--predicate-only"]);
    let predicate: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(predicate["verificationResult"], "PASSED");
}

#[test]
fn what_entered_through_break_glass_is_refused_unless_allowed_and_then_marked() {
    let repo = TestRepo::with_break_glass();
    repo.hotfix("prod is down, CVE fix", &[]);
    repo.ok(&["approve", "api@2", "--key", &repo.key_str("bob")]);
    let out = repo.fails(1, &["attest", "--app", "api", "--env", "production", "--predicate-only"]);
    insta::assert_snapshot!(out, @"error: refused, nothing written: a digest production runs of api came in through a break-glass override (api@2 in promotions/apps/api/00000002.json); pass --allow-override to attest it anyway, marked GITOPS_LEDGER_BREAK_GLASS");
    let out = repo.ok(&["attest", "--app", "api", "--env", "production", "--predicate-only", "--allow-override"]);
    let predicate: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        predicate["verifiedLevels"],
        serde_json::json!(["GITOPS_LEDGER_ENV_PRODUCTION", "GITOPS_LEDGER_BREAK_GLASS"])
    );
    // Dev's image came in the ordinary way.
    let out = repo.ok(&["attest", "--app", "api", "--env", "dev", "--predicate-only"]);
    let predicate: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(predicate["verifiedLevels"], serde_json::json!(["GITOPS_LEDGER_ENV_DEV"]));
}

/// Found in review: only the record that set the digest last was checked
/// for an override, so a hotfix digest brought back by an ordinary rollback
/// was attested as if it had gone through staging.
#[test]
fn a_break_glass_digest_brought_back_by_an_ordinary_rollback_is_still_refused() {
    let repo = TestRepo::with_break_glass();
    let (alice, bob) = (repo.key_str("alice"), repo.key_str("bob"));
    let promote = |env: &str, fill: char, at: &str, extra: &[&str]| {
        let image = format!("ghcr.io/o/api@{}", digest(fill));
        let mut args = vec!["promote", "--app", "api", "--env", env, "--image", &image, "--key", &alice, "--at", at];
        args.extend_from_slice(extra);
        repo.ok(&args);
    };
    promote("staging", 'a', "2026-11-27T09:00:00Z", &[]);
    repo.hotfix("prod is down", &["--at", "2026-11-27T10:00:00Z"]);
    repo.ok(&["approve", "api@3", "--key", &bob]);
    // An ordinary release of 'a' after its soak, then a rollback to the hotfix digest.
    promote("production", 'a', "2026-11-28T10:00:00Z", &[]);
    repo.ok(&["approve", "api@5", "--key", &bob]);
    promote("production", 'f', "2026-11-28T10:00:00Z", &["--rollback"]);
    repo.ok(&["approve", "api@7", "--key", &bob]);
    assert_eq!(repo.read_json("versions.json")["apps"]["api"]["production"]["seq"], 7);
    let out = repo.fails(1, &["attest", "--app", "api", "--env", "production", "--predicate-only"]);
    assert!(
        out.contains("came in through a break-glass override (api@3 in promotions/apps/api/00000003.json)"),
        "{out}"
    );
    let out = repo.ok(&["attest", "--app", "api", "--env", "production", "--predicate-only", "--allow-override"]);
    let predicate: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(predicate["verifiedLevels"][1], "GITOPS_LEDGER_BREAK_GLASS");
    // The rollback and the approval that completed it are the inputs.
    let inputs: Vec<&str> =
        predicate["inputAttestations"].as_array().unwrap().iter().map(|i| i["uri"].as_str().unwrap()).collect();
    assert_eq!(inputs, ["promotions/apps/api/00000007.json", "promotions/apps/api/00000008.json"]);
}

#[test]
fn a_promotion_waiting_for_its_second_approver_is_not_attested() {
    let repo = TestRepo::with_landed_records();
    repo.forge(Forged::new(4, "dev", 'b', "2026-11-27T08:00:00Z", &["ci"]));
    repo.forge(Forged::new(5, "staging", 'b', "2026-11-27T09:00:00Z", &["alice"]));
    // Production needs two signers; alice alone leaves it pending.
    repo.forge(Forged::new(6, "production", 'b', "2026-11-28T10:00:00Z", &["alice"]));
    let out = repo.ok(&["attest", "--app", "api", "--env", "production", "--predicate-only"]);
    let predicate: Value = serde_json::from_str(&out).unwrap();
    let record = "promotions/apps/api/00000003.json";
    // Before anything reached production, the refusal names what waits.
    let fresh = TestRepo::with_signed_policy();
    fresh.forge(Forged::new(1, "dev", 'a', "2026-11-25T08:00:00Z", &["ci"]));
    fresh.forge(Forged::new(2, "staging", 'a', "2026-11-25T09:00:00Z", &["alice"]));
    fresh.forge(Forged::new(3, "production", 'a', "2026-11-26T10:00:00Z", &["alice"]));
    let refused = fresh.fails(1, &["attest", "--app", "api", "--env", "production", "--predicate-only"]);
    assert!(refused.contains("production runs nothing of api yet, so there is nothing to attest; api@3 is pending approval: gitops-ledger approve api@3"), "{refused}");
    assert_eq!(
        predicate["inputAttestations"],
        serde_json::json!([{"uri": record, "digest": {"sha256": record_id_hex(&repo, record)}}])
    );
}

#[test]
fn output_is_deterministic_for_a_fixed_clock() {
    let repo = TestRepo::with_landed_records();
    let args = ["attest", "--app", "api", "--env", "production", "--key", &repo.key_str("carol")];
    let first = repo.ok(&args);
    assert_eq!(repo.ok(&args), first);
    insta::assert_snapshot!(first, @r#"
        {
          "payloadType": "application/vnd.in-toto+json",
          "payload": "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCJzdWJqZWN0IjpbeyJuYW1lIjoiZ2hjci5pby9vL2FwaSIsImRpZ2VzdCI6eyJzaGEyNTYiOiJhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhIn19XSwicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vc2xzYS5kZXYvdmVyaWZpY2F0aW9uX3N1bW1hcnkvdjEiLCJwcmVkaWNhdGUiOnsidmVyaWZpZXIiOnsiaWQiOiJwa2c6Y2FyZ28vZ2l0b3BzLWxlZGdlckAwLjEuMCJ9LCJ0aW1lVmVyaWZpZWQiOiIyMDI2LTExLTI4VDEwOjAwOjAwWiIsInJlc291cmNlVXJpIjoiZ2l0b3BzLWxlZGdlcjphcGkvcHJvZHVjdGlvbiIsInBvbGljeSI6eyJ1cmkiOiJwcm9tb3Rpb25zL3BvbGljeS8wMDAwMDAwMS5qc29uIiwiZGlnZXN0Ijp7InNoYTI1NiI6Ijc3Nzg1NWUzMzYwYjcxMzRkYWE5ODAzNjY3ZWVhMWY4MmVkYTQyNTE2OWY1MjE5YTM2N2ZkZWRjZWM2MWJhMDEifX0sImlucHV0QXR0ZXN0YXRpb25zIjpbeyJ1cmkiOiJwcm9tb3Rpb25zL2FwcHMvYXBpLzAwMDAwMDAzLmpzb24iLCJkaWdlc3QiOnsic2hhMjU2IjoiYTg2MzlmMzBjNzgzYjJjYjQ1OTQwOTlhZjViODUwMDRmZmM2NjQwYWExMzNkYmYzNTQyMTc0ZWJmOGFhMmMxZSJ9fV0sInZlcmlmaWNhdGlvblJlc3VsdCI6IlBBU1NFRCIsInZlcmlmaWVkTGV2ZWxzIjpbIkdJVE9QU19MRURHRVJfRU5WX1BST0RVQ1RJT04iXX19",
          "signatures": [
            {
              "keyid": "SHA256:8OayxKY2hZpYHE/QZ9h6hVWuAAScbWHGisyb0RPepKU",
              "sig": "LgLtM+uBDj0+XHjffdussO23FlIKi9dJ7RsXb8UOBjv2gRC8NokjMV7Sz6Ru8WqOvrOOorI6mwHLNLpXV0SpAg=="
            }
          ]
        }
        "#);
    let predicate = repo.ok(&["attest", "--app", "api", "--env", "production", "--predicate-only"]);
    insta::assert_snapshot!(predicate, @r#"
        {
          "verifier": {
            "id": "pkg:cargo/gitops-ledger@0.1.0"
          },
          "timeVerified": "2026-11-28T10:00:00Z",
          "resourceUri": "gitops-ledger:api/production",
          "policy": {
            "uri": "promotions/policy/00000001.json",
            "digest": {
              "sha256": "777855e3360b7134daa9803667eea1f82eda425169f5219a367fdedcec61ba01"
            }
          },
          "inputAttestations": [
            {
              "uri": "promotions/apps/api/00000003.json",
              "digest": {
                "sha256": "a8639f30c783b2cb4594099af5b85004ffc6640aa133dbf3542174ebf8aa2c1e"
              }
            }
          ],
          "verificationResult": "PASSED",
          "verifiedLevels": [
            "GITOPS_LEDGER_ENV_PRODUCTION"
          ]
        }
        "#);
}

#[test]
fn an_unknown_app_or_environment_is_a_usage_error_and_an_environment_running_nothing_is_refused() {
    let repo = TestRepo::with_landed_records();
    let refusals = [
        (vec!["attest", "--app", "api", "--env", "production"], "--key <FILE>"),
        (
            vec!["attest", "--app", "web", "--env", "production", "--predicate-only"],
            "no app `web` under promotions/apps/ (apps: api); there is nothing to attest",
        ),
        (
            vec!["attest", "--app", "api", "--env", "qa", "--predicate-only"],
            "`qa` is not an environment of the newest policy (environments: dev, staging, production)",
        ),
    ];
    for (args, needle) in refusals {
        let out = repo.fails(2, &args);
        assert!(out.contains(needle), "{needle:?} not in:\n{out}");
    }
    let key = repo.key_str("carol");
    let out = repo.fails(2, &["attest", "--app", "api", "--env", "production", "--predicate-only", "--key", &key]);
    assert!(out.contains("cannot be used with"), "{out}");

    let repo = TestRepo::with_signed_policy();
    repo.forge(Forged::new(1, "dev", 'a', "2026-11-25T08:00:00Z", &["ci"]));
    let out = repo.fails(1, &["attest", "--app", "api", "--env", "production", "--predicate-only"]);
    assert!(out.contains("production runs nothing of api yet, so there is nothing to attest"), "{out}");
}

#[test]
fn with_rev_it_attests_the_committed_ledger_not_the_work_tree() {
    let repo = TestRepo::landed_at_base();
    // A production promotion of 'b' written but not committed.
    repo.forge(Forged::new(4, "dev", 'b', "2026-11-27T08:00:00Z", &["ci"]));
    repo.project();
    let subjects = |args: &[&str]| -> Value {
        let out =
            repo.ok(&[&["attest", "--app", "api", "--env", "dev", "--key", &repo.key_str("carol")], args].concat());
        statement(&out)["subject"][0]["digest"]["sha256"].clone()
    };
    assert_eq!(subjects(&[]), "b".repeat(64));
    assert_eq!(subjects(&["--rev", "HEAD"]), "a".repeat(64));
    let out = repo.fails(2, &["attest", "--app", "api", "--env", "dev", "--predicate-only", "--rev", "no-such-rev"]);
    assert!(out.contains("no-such-rev"), "{out}");
}

#[test]
fn out_is_readable_by_all_and_a_missing_directory_is_an_error_not_made() {
    let repo = TestRepo::with_landed_records();
    let args = ["attest", "--app", "api", "--env", "production", "--predicate-only", "--out"];
    repo.ok(&[&args[..], &["vsa.json"]].concat());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(repo.root.join("vsa.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
    let out = repo.fails(2, &[&args[..], &["no-such-dir/vsa.json"]].concat());
    assert!(out.contains("cannot write no-such-dir/vsa.json"), "{out}");
    assert!(!repo.root.join("no-such-dir").exists());
}
