//! Text a pull-request author controls (a record's `reason`, a break-glass
//! override reason, a value a parse error quotes) never comes out of any
//! output format as a GitHub workflow command, a terminal control sequence,
//! or markdown or HTML that renders as anything but text.

use crate::common::{digest, TestRepo};

/// Newlines followed by workflow commands (both syntaxes), CR, ESC, BEL and
/// C1 sequences, a bidirectional override, then markdown and HTML.
const HOSTILE: &str = "hotfix\n::error file=x::INJECTED\n::stop-commands::tok\r\n  ::warning::indented\r\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}link\u{9b}31m\u{202e}rtl <img src=x onerror=alert(1)> [click](https://evil.example) **bold** | cell | `code` # head _em_ @admins ##[error]old";

/// A production hotfix with a hostile reason and override reason, approved:
/// a passing ledger that reports the override.
fn hostile_ledger() -> TestRepo {
    let repo = TestRepo::with_break_glass();
    // What `promote` prints about the record is for a terminal.
    assert_no_controls(&repo.hotfix(HOSTILE, &["--reason", HOSTILE]));
    repo.ok(&["approve", "api@2", "--key", &repo.key_str("bob")]);
    repo
}

/// The ledger above, plus a record whose kind is hostile text: serde quotes
/// the bad value in its error, so the violation carries it.
fn failing_hostile_ledger() -> TestRepo {
    let repo = hostile_ledger();
    let record = serde_json::json!({
        "schema": "gitops-ledger/promotion/v1", "app": "web", "seq": 1, "prev": null, "policy": 1,
        "env": "dev", "from": null, "kind": HOSTILE,
        "images": [{"name": "ghcr.io/o/web", "digest": digest('b')}],
        "at": "2026-11-27T08:00:00Z", "signatures": []
    });
    repo.write("promotions/apps/web/00000001.json", &serde_json::to_string_pretty(&record).unwrap());
    repo
}

/// stdout and stderr of `verify` with `args`, which must exit `code`.
fn verify(repo: &TestRepo, code: i32, args: &[&str]) -> String {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let out = repo.run(&all);
    assert_eq!(out.status.code(), Some(code), "{}", String::from_utf8_lossy(&out.stderr));
    format!("{}{}", String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// No control character but the line breaks of the output's own layout, and
/// no bidirectional control.
fn assert_no_controls(out: &str) {
    let hidden: Vec<char> =
        out.chars().filter(|c| (c.is_control() && *c != '\n') || ('\u{202a}'..='\u{202e}').contains(c)).collect();
    assert!(hidden.is_empty(), "control characters {hidden:?} in:\n{out}");
}

/// [`assert_no_controls`], and no line a runner would take as a workflow command.
fn assert_safe_text(out: &str) {
    assert_no_controls(out);
    for line in out.lines() {
        assert!(!line.trim_start().starts_with("::"), "a workflow command: {line:?}");
    }
}

#[test]
fn text_output_shows_hostile_text_on_its_line_without_control_sequences() {
    for repo in [hostile_ledger(), failing_hostile_ledger()] {
        let failing = repo.root.join("promotions/apps/web").exists();
        let out = verify(&repo, i32::from(failing), &[]);
        assert_safe_text(&out);
        assert!(
            out.contains(r"signed by alice, bob: hotfix\n::error file=x::INJECTED\n::stop-commands::tok\r\n  ::warning::indented\r\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}link\u{9b}31m\u{202e}rtl <img"),
            "{out}"
        );
        if failing {
            assert!(out.contains(r"unknown variant `hotfix\n::error file=x::INJECTED"), "{out}");
        }
    }
}

/// GitHub's runner reads a line as a command when it starts with `::`; only
/// the tool's own annotations may, with their properties escaped, so the
/// message is all that hostile text reaches.
#[test]
fn github_output_starts_no_workflow_command_but_its_own_annotations() {
    for repo in [hostile_ledger(), failing_hostile_ledger()] {
        let failing = repo.root.join("promotions/apps/web").exists();
        let out = verify(&repo, i32::from(failing), &["--format", "github"]);
        let (commands, plain): (Vec<&str>, Vec<&str>) = out.lines().partition(|line| line.starts_with("::"));
        assert_safe_text(&plain.join("\n"));
        for line in &plain {
            assert!(!line.contains("##["), "an old-syntax workflow command: {line:?}");
        }
        for command in &commands {
            let (name_and_properties, message) = command[2..].split_once("::").unwrap();
            let (name, properties) = name_and_properties.split_once(' ').unwrap();
            assert!(["error", "warning", "notice"].contains(&name), "{command}");
            assert!(!properties.contains(':'), "a property leaks its end: {command}");
            // After a command's own `::`, the runner reads no other command.
            assert_no_controls(message);
        }
        let override_line = commands.iter().find(|c| c.contains("break-glass override")).unwrap();
        assert!(
            override_line.ends_with(r"signed by alice, bob: hotfix\n::error file=x::INJECTED\n::stop-commands::tok\r\n  ::warning::indented\r\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}link\u{9b}31m\u{202e}rtl <img src=x onerror=alert(1)> [click](https://evil.example) **bold** | cell | `code` # head _em_ @admins ##[error]old"),
            "{override_line}"
        );
        assert_eq!(commands.len(), if failing { 3 } else { 2 }, "{out}");
    }
}

/// serde_json escapes C0 controls; the tool's JSON also escapes C1 and
/// bidirectional controls, and the text round-trips exactly.
#[test]
fn json_output_escapes_every_control_character_and_round_trips() {
    for repo in [hostile_ledger(), failing_hostile_ledger()] {
        let failing = repo.root.join("promotions/apps/web").exists();
        let out = verify(&repo, i32::from(failing), &["--format", "json"]);
        assert_safe_text(&out);
        assert!(out.contains(r#"hotfix\n::error file=x::INJECTED\n::stop-commands::tok\r\n  ::warning::indented\r\u001b[2J\u001b]8;;https://evil.example\u0007link\u009b31m\u202ertl"#), "{out}");
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json["overrides"][0]["reason"], HOSTILE);
    }
    let log = hostile_ledger().ok(&["log", "--format", "json"]);
    assert_safe_text(&log);
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    // Newest first: the approval, then the hotfix.
    assert_eq!(log[1]["record"]["override"]["reason"], HOSTILE);
}

/// A markdown table row has as many cell separators as its header, and
/// nothing in it renders as markup.
#[test]
fn markdown_output_renders_hostile_text_as_text() {
    for repo in [hostile_ledger(), failing_hostile_ledger()] {
        let failing = repo.root.join("promotions/apps/web").exists();
        let out = verify(&repo, i32::from(failing), &["--format", "markdown"]);
        assert_safe_text(&out);
        let mut columns = 0;
        for line in out.lines().filter(|line| line.starts_with('|')) {
            let unescaped = without_escaped_characters(line);
            let separators = unescaped.matches('|').count();
            if line.starts_with("| file |") {
                columns = separators;
            }
            assert_eq!(separators, columns, "a cell of its own in {line:?}");
            let markup: Vec<char> = unescaped.chars().filter(|c| "<>[]()*`_#&~$!{}".contains(*c)).collect();
            assert!(markup.is_empty(), "unescaped {markup:?} in {line:?}");
            assert!(!line.contains("@admins"), "a mention in {line:?}");
        }
        let reason = r"hotfix\\n::error file=x::INJECTED\\n::stop\-commands::tok\\r\\n  ::warning::indented\\r\\u\{1b\}\[2J\\u\{1b\}\]8;;https://evil.example\\u\{7\}link\\u\{9b\}31m\\u\{202e\}rtl \<img src=x onerror=alert\(1\)\> \[click\]\(https://evil.example\) \*\*bold\*\* \| cell \| \`code\` \# head \_em\_ @";
        let reason = format!("{reason}\u{2060}admins \\#\\#\\[error\\]old");
        assert!(out.contains(&format!("| provenance | alice, bob | {reason} |")), "{out}");
    }
}

/// A markdown line without its backslash-escaped characters: what is left
/// is what markdown reads as markup.
fn without_escaped_characters(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
        } else {
            out.push(c);
        }
    }
    out
}

/// The auditor's HTML report shows hostile text as text.
#[test]
fn html_report_renders_hostile_text_as_text() {
    let repo = failing_hostile_ledger();
    let out = repo.ok(&["report", "--out", "report.html"]);
    assert_safe_text(&out);
    let html = repo.read("report.html");
    assert_no_controls(&html);
    assert!(!html.contains("<img") && !html.contains("onerror=alert(1)>"), "{html}");
    assert!(
        html.contains(r"waives provenance: hotfix\n::error file=x::INJECTED\n::stop-commands::tok\r\n  ::warning::indented\r\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}link\u{9b}31m\u{202e}rtl &lt;img src=x onerror=alert(1)&gt; [click](https://evil.example) **bold** | cell | `code` # head _em_ @admins ##[error]old"),
        "{html}"
    );
}
