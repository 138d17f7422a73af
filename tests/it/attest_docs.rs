//! docs/attest.md's Kyverno `ClusterPolicy`, exactly as written there,
//! validated against Kyverno's schema: the JSON-schema validators of the npm
//! package `@kubernetes-models/kyverno` (generated from Kyverno's API types),
//! which .ci/run installs under .ci/node. They check types, required fields
//! and enumerations, not unknown field names (docs/attest.md says so).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::common::skip_or_fail;

/// The line right before the manifest's code block in docs/attest.md.
const MARKER: &str = "<!-- attest-docs: kyverno-clusterpolicy -->";
const KYVERNO_MODELS: &str = ".ci/node/node_modules/@kubernetes-models/kyverno/kyverno.io/v1/ClusterPolicy.js";

/// Node ESM: load the ClusterPolicy model by path, validate the JSON file.
const VALIDATE: &str = r#"
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [model, file] = process.argv.slice(-2);
const { ClusterPolicy } = await import(pathToFileURL(model).href);
try {
  new ClusterPolicy(JSON.parse(readFileSync(file, "utf8"))).validate();
  console.log("valid");
} catch (error) {
  console.log(`invalid: ${error.message}`);
  process.exit(1);
}
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The YAML of the code block right after the marker.
fn manifest_in_docs() -> String {
    let doc = std::fs::read_to_string(root().join("docs/attest.md")).unwrap();
    let (_, after) = doc.split_once(MARKER).expect("docs/attest.md has the ClusterPolicy marker");
    let block = after.trim_start().strip_prefix("```yaml\n").expect("a ```yaml block right after the marker");
    block.split_once("\n```").expect("the block ends").0.to_string()
}

fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Hash(map) => Value::Object(
            map.iter().map(|(key, value)| (key.as_str().expect("string keys").to_string(), to_json(value))).collect(),
        ),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::String(text) => Value::String(text.clone()),
        Yaml::Boolean(flag) => Value::Bool(*flag),
        Yaml::Integer(number) => Value::from(*number),
        Yaml::Null => Value::Null,
        other => panic!("the manifest holds {other:?}, which this test does not convert"),
    }
}

fn manifest_json() -> Value {
    let docs = YamlLoader::load_from_str(&manifest_in_docs()).unwrap();
    assert_eq!(docs.len(), 1, "one YAML document");
    to_json(&docs[0])
}

/// "valid", or "invalid: <what>" from Kyverno's schema; None when the
/// validators are not installed and tools are not required (SKIPPED printed).
fn validate(manifest: &Value, dir: &Path) -> Option<String> {
    let model = root().join(KYVERNO_MODELS);
    let problem = if !model.is_file() {
        Some(format!(
            "{KYVERNO_MODELS} is missing (npm install --prefix .ci/node @kubernetes-models/kyverno@2.0.0, as .ci/run does)"
        ))
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node is not installed (apt-get install nodejs)".to_string())
    } else {
        None
    };
    let require = std::env::var("GITOPS_LEDGER_REQUIRE_TOOLS").ok();
    let purpose = "docs/attest.md's Kyverno ClusterPolicy against Kyverno's schema";
    if let Some(skipped) = skip_or_fail("node", purpose, problem.as_deref(), require.as_deref()) {
        println!("{skipped}");
        return None;
    }
    let file = dir.join("policy.json");
    std::fs::write(&file, serde_json::to_vec_pretty(manifest).unwrap()).unwrap();
    let out = Command::new("node")
        .args(["--input-type=module", "-e", VALIDATE, "--"])
        .arg(&model)
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        (out.status.success() && stdout == "valid")
            || (out.status.code() == Some(1) && stdout.starts_with("invalid: ")),
        "the validator did not run: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(stdout)
}

#[test]
fn the_kyverno_policy_in_the_docs_is_valid_against_kyverno_s_schema() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest_json();
    assert_eq!(manifest["apiVersion"], "kyverno.io/v1");
    assert_eq!(manifest["kind"], "ClusterPolicy");
    let Some(verdict) = validate(&manifest, dir.path()) else { return };
    assert_eq!(verdict, "valid", "docs/attest.md's ClusterPolicy");

    // The validator checks the attestation part: broken copies fail it.
    let mut broken = manifest.clone();
    broken["spec"]["rules"][0]["verifyImages"][0]["attestations"][0]["conditions"][0]["all"][0]["operator"] =
        "Equal".into();
    let verdict = validate(&broken, dir.path()).unwrap();
    assert!(verdict.contains("operator must be equal to one of the allowed values"), "{verdict}");

    let mut broken = manifest.clone();
    broken["spec"]["rules"][0]["verifyImages"][0]["attestations"][0]["attestors"] = "cosign.pub".into();
    let verdict = validate(&broken, dir.path()).unwrap();
    assert!(verdict.contains("attestors must be array"), "{verdict}");
}

#[test]
fn the_kyverno_policy_checks_the_fields_attest_writes() {
    let manifest = manifest_json();
    let attestation = &manifest["spec"]["rules"][0]["verifyImages"][0]["attestations"][0];
    assert_eq!(attestation["type"], "https://slsa.dev/verification_summary/v1");
    let conditions: Vec<(String, String, Value)> = attestation["conditions"][0]["all"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["key"].as_str().unwrap().to_string(), c["operator"].as_str().unwrap().to_string(), c["value"].clone())
        })
        .collect();
    let expected = [
        ("{{ verificationResult }}", "Equals", Value::from("PASSED")),
        ("{{ starts_with(verifier.id, 'pkg:cargo/gitops-ledger@') }}", "Equals", Value::from(true)),
        ("{{ contains(verifiedLevels, 'GITOPS_LEDGER_ENV_PRODUCTION') }}", "Equals", Value::from(true)),
        ("{{ contains(verifiedLevels, 'GITOPS_LEDGER_BREAK_GLASS') }}", "Equals", Value::from(false)),
    ];
    let expected: Vec<(String, String, Value)> =
        expected.into_iter().map(|(key, op, value)| (key.to_string(), op.to_string(), value)).collect();
    assert_eq!(conditions, expected);
}
