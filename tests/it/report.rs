//! The HTML report: self-contained, and rendered by a real headless Chromium.

use serde_json::json;

use crate::common::{digest, tool_available, TestRepo};

/// A history with evidence, a rollback and a break-glass hotfix.
fn eventful() -> TestRepo {
    let repo = TestRepo::new();
    repo.init_policy(|policy| {
        policy["environments"][1]["evidence_signers"] = json!(["ci"]);
        policy["break_glass"] = json!({"signers": ["alice", "bob"], "threshold": 2});
    });
    repo.promote("dev", 'a', "ci", "2026-11-20T08:00:00Z");
    repo.promote("staging", 'a', "alice", "2026-11-20T09:00:00Z");
    repo.ok(&[
        "evidence",
        "--app",
        "api",
        "--env",
        "staging",
        "--type",
        "smoke-test",
        "--result",
        "pass",
        "--key",
        &repo.key_str("ci"),
        "--at",
        "2026-11-20T09:30:00Z",
        "--commit",
    ]);
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "production",
        "--key",
        &repo.key_str("alice"),
        "--at",
        "2026-11-21T10:00:00Z",
        "--commit",
    ]);
    repo.ok(&["approve", "api@4", "--key", &repo.key_str("bob"), "--at", "2026-11-21T10:30:00Z", "--commit"]);
    repo.promote("dev", 'b', "ci", "2026-11-22T08:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "production",
        "--image",
        &format!("ghcr.io/o/api@{}", digest('b')),
        "--override-reason",
        "CVE hotfix",
        "--override-rule",
        "provenance",
        "--key",
        &repo.key_str("alice"),
        "--at",
        "2026-11-22T09:00:00Z",
    ]);
    repo.ok(&["approve", "api@7", "--key", &repo.key_str("bob"), "--at", "2026-11-22T09:10:00Z"]);
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "production",
        "--rollback",
        "--image",
        &format!("ghcr.io/o/api@{}", digest('a')),
        "--key",
        &repo.key_str("alice"),
        "--at",
        "2026-11-23T09:00:00Z",
    ]);
    repo.ok(&["approve", "api@9", "--key", &repo.key_str("carol"), "--at", "2026-11-23T09:20:00Z"]);
    repo
}

#[test]
fn the_report_is_self_contained_and_renders_in_headless_chromium() {
    let repo = eventful();
    let out_path = repo.keys.parent().unwrap().join("report.html");
    let out = repo.ok(&["report", "--out", out_path.to_str().unwrap()]);
    assert!(out.contains("(10 records of 1 apps)"), "{out}");
    let html = std::fs::read_to_string(&out_path).unwrap();
    for expected in [
        "every rule holds",
        "<strong>break-glass override: promotions/apps/api/00000007.json (api@7) for production waiving provenance, signed by alice, bob: CVE hotfix</strong>",
        "<strong>BREAK-GLASS</strong> waives provenance: CVE hotfix",
        "smoke-test pass 2026-11-20T09:30:00Z",
        "↺ ",
        "Lead time to production",
    ] {
        assert!(html.contains(expected), "{expected:?} missing from the report");
    }
    for external in ["src=", "href=", "@import", "url(", "<script"] {
        assert!(!html.contains(external), "the report must not load anything ({external})");
    }

    if !tool_available("chromium", "the HTML report renders in headless Chromium") {
        return;
    }
    let png = repo.keys.parent().unwrap().join("report.png");
    let profile = repo.keys.parent().unwrap().join("chromium-profile");
    let rendered = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            "--window-size=1280,1400",
            &format!("--screenshot={}", png.display()),
            &format!("file://{}", out_path.display()),
        ])
        .output()
        .unwrap();
    assert!(rendered.status.success(), "chromium failed: {}", String::from_utf8_lossy(&rendered.stderr));
    let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 20_000, "a blank page would be tiny: {} bytes", bytes.len());
    if let Some(keep) = std::env::var_os("GITOPS_LEDGER_KEEP_REPORT_PNG") {
        std::fs::copy(&png, keep).unwrap();
    }
}

#[test]
fn report_shows_only_the_app_and_window_asked_for() {
    let repo = eventful();
    for (app, fill, at) in [("api", 'c', "2026-11-23T10:00:00Z"), ("web", 'd', "2026-11-22T08:00:00Z")] {
        repo.ok(&[
            "promote",
            "--app",
            app,
            "--env",
            "dev",
            "--image",
            &format!("ghcr.io/o/{app}@{}", digest(fill)),
            "--key",
            &repo.key_str("ci"),
            "--at",
            at,
        ]);
    }
    let out_path = repo.keys.parent().unwrap().join("window.html");
    let out = repo.ok(&[
        "report",
        "--out",
        out_path.to_str().unwrap(),
        "--app",
        "api",
        "--since",
        "2026-11-22T00:00:00Z",
        "--until",
        "2026-11-23T09:30:00Z",
    ]);
    assert!(out.contains("(5 records of 1 apps)"), "{out}");
    let html = std::fs::read_to_string(&out_path).unwrap();
    for present in ["api@6", "api@7", "api@8", "api@9", "api@10", "2026-11-22T00:00:00Z to 2026-11-23T09:30:00Z"] {
        assert!(html.contains(present), "{present:?} missing from the report");
    }
    // Earlier and later records, and the other app, are left out.
    for absent in ["api@3", "api@5", "api@11", "<h2>web</h2>", "smoke-test pass"] {
        assert!(!html.contains(absent), "{absent:?} shown although outside --app or the window");
    }
    // The fold still starts at api@1: the rollback completed by carol took effect.
    assert!(html.contains("took effect at 2026-11-23T09:20:00Z"), "the fold lost the chain's start");
}
