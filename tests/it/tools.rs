//! The helper that skips a test whose external tool is missing, or fails it
//! when GITOPS_LEDGER_REQUIRE_TOOLS=1: the decision is taken apart from the
//! process environment, which tests must not change under each other.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::common::{kustomize_problem, skip_or_fail, tool_available, tool_problem, REQUIRE_TOOLS};

const NO_SUCH_TOOL: &str = "gitops-ledger-no-such-tool";

/// The message `f` panicked with.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("it should have panicked");
    payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

#[test]
fn a_tool_that_cannot_exist_is_skipped_with_its_reason_unless_tools_are_required() {
    let problem = tool_problem(NO_SUCH_TOOL);
    assert_eq!(problem.as_deref(), Some("gitops-ledger-no-such-tool is not installed"));
    for unset in [None, Some(""), Some("0")] {
        assert_eq!(
            skip_or_fail(NO_SUCH_TOOL, "the helper's own test of a tool that cannot exist (expected)", problem.as_deref(), unset).as_deref(),
            Some("SKIPPED: the helper's own test of a tool that cannot exist (expected): gitops-ledger-no-such-tool is not installed (no install hint known: put it on PATH)"),
            "{REQUIRE_TOOLS}={unset:?}"
        );
    }
    // The wrapper reads the variable as the process has it (unset locally, 1 under .ci/run).
    match std::env::var(REQUIRE_TOOLS).ok().as_deref() {
        Some("1") => {
            let message = panic_message(|| {
                tool_available(NO_SUCH_TOOL, "the helper's own test of a tool that cannot exist (expected)");
            });
            assert!(message.contains("gitops-ledger-no-such-tool is not installed"), "{message}");
        }
        _ => assert!(!tool_available(NO_SUCH_TOOL, "the helper's own test of a tool that cannot exist (expected)")),
    }
}

#[test]
fn a_missing_tool_fails_the_test_naming_it_and_how_to_install_it_when_tools_are_required() {
    let message = panic_message(|| {
        skip_or_fail("chromium", "the report renders", Some("chromium is not installed"), Some("1"));
    });
    assert_eq!(
        message,
        "the report renders: chromium is not installed (apt-get install chromium); \
         GITOPS_LEDGER_REQUIRE_TOOLS=1 requires every tool the tests run"
    );
    let message = panic_message(|| {
        skip_or_fail("kubectl", "overlays render", Some("kubectl has kustomize v2.0.3, not v5"), Some("1"));
    });
    assert!(message.starts_with("overlays render: kubectl has kustomize v2.0.3, not v5 (install kubectl"), "{message}");
}

#[test]
#[should_panic(expected = "GITOPS_LEDGER_REQUIRE_TOOLS=\"yes\": set it to 1")]
fn a_require_tools_value_other_than_1_or_0_is_refused_rather_than_read_as_skip() {
    skip_or_fail("git", "anything", None, Some("yes"));
}

#[test]
fn an_installed_tool_runs_whether_or_not_tools_are_required() {
    assert_eq!(tool_problem("git"), None, "every fixture runs git, so it is on PATH");
    assert_eq!(skip_or_fail("git", "anything", None, None), None);
    assert_eq!(skip_or_fail("git", "anything", None, Some("1")), None);
    assert!(tool_available("git", "anything"));
}

#[test]
fn kubectl_counts_only_with_kustomize_v5() {
    let v5 = "Client Version: v1.32.4\nKustomize Version: v5.5.0\n";
    assert_eq!(kustomize_problem(v5), None);
    let debian = "Client Version: v1.20.5\nKustomize Version: v2.0.3\n";
    assert_eq!(kustomize_problem(debian).as_deref(), Some("kubectl has kustomize v2.0.3, not v5"));
    assert_eq!(
        kustomize_problem("Kustomize Version: v50.1.0").as_deref(),
        Some("kubectl has kustomize v50.1.0, not v5")
    );
    let none = kustomize_problem("Client Version: v1.19.0\n").unwrap();
    assert!(none.starts_with("kubectl has no kustomize"), "{none}");
}
