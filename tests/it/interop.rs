//! Signatures interoperate with OpenSSH: `ssh-keygen -Y verify` checks ours,
//! and the library accepts what `ssh-keygen -Y sign` makes.

use std::process::Command;

use crate::common::{independent_message, tool_available, TestRepo};

fn armor(base64: &str) -> String {
    let lines: Vec<String> = base64.as_bytes().chunks(70).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    format!("-----BEGIN SSH SIGNATURE-----\n{}\n-----END SSH SIGNATURE-----\n", lines.join("\n"))
}

fn unarmor(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().concat()
}

pub(crate) fn ssh_keygen_verify(
    repo: &TestRepo,
    signer: &str,
    namespace: &str,
    message: &[u8],
    sig: &str,
) -> std::process::Output {
    let dir = repo.keys.parent().unwrap();
    std::fs::write(dir.join("message"), message).unwrap();
    std::fs::write(dir.join("message.sig"), armor(sig)).unwrap();
    let public = std::fs::read_to_string(repo.key(&format!("{signer}.pub"))).unwrap();
    std::fs::write(dir.join("allowed_signers"), format!("{signer} namespaces=\"{namespace}\" {public}")).unwrap();
    Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f", "allowed_signers", "-I", signer, "-n", namespace, "-s", "message.sig"])
        .current_dir(dir)
        .stdin(std::fs::File::open(dir.join("message")).unwrap())
        .output()
        .unwrap()
}

#[test]
fn ssh_keygen_verifies_a_record_signature_under_the_gitops_ledger_namespace() {
    if !tool_available("ssh-keygen", "ssh-keygen -Y verify checks a record signature") {
        return;
    }
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-28T09:00:00Z");
    let record = repo.read_json("promotions/apps/api/00000001.json");
    let message = independent_message(&record);
    let sig = record["signatures"][0]["sig"].as_str().unwrap();

    let good = ssh_keygen_verify(&repo, "ci", "gitops-ledger", &message, sig);
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert!(String::from_utf8_lossy(&good.stdout).contains("Good \"gitops-ledger\" signature for ci"));

    // The namespace binds it: not valid as, say, a git commit signature.
    let other_namespace = ssh_keygen_verify(&repo, "ci", "git", &message, sig);
    assert!(!other_namespace.status.success());
    let mut altered = message.clone();
    altered[10] ^= 1;
    assert!(!ssh_keygen_verify(&repo, "ci", "gitops-ledger", &altered, sig).status.success());
}

#[test]
fn an_approval_signed_by_ssh_keygen_is_accepted() {
    if !tool_available("ssh-keygen", "an approval signed by ssh-keygen -Y sign is accepted") {
        return;
    }
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.promote("staging", 'a', "alice", "2026-11-27T09:00:00Z");
    repo.ok(&["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice")]);
    let path = "promotions/apps/api/00000003.json";
    let dir = repo.keys.parent().unwrap();
    std::fs::write(dir.join("message"), independent_message(&repo.read_json(path))).unwrap();
    let signed = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-f", &repo.key_str("bob"), "-n", "gitops-ledger", "message"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(signed.status.success(), "{}", String::from_utf8_lossy(&signed.stderr));
    let sig = unarmor(&std::fs::read_to_string(dir.join("message.sig")).unwrap());
    repo.edit_json(path, |record| {
        record["signatures"].as_array_mut().unwrap().push(serde_json::json!({"signer": "bob", "sig": sig}));
    });
    // Approved by hand, so the projection moves by hand too.
    repo.project();
    let out = repo.ok(&["verify"]);
    assert!(out.contains("every rule holds"), "{out}");

    // The same blob claimed by another signer does not count.
    repo.edit_json(path, |record| record["signatures"][1]["signer"] = "carol".into());
    let wrong = repo.fails(1, &["verify"]);
    assert!(wrong.contains("signature by carol: signature was made by a different key"), "{wrong}");
}
