#!/usr/bin/env bash
# The action's verify step, in $GITHUB_WORKSPACE (the checked-out config repo):
#   gitops-ledger verify --rev HEAD --base INPUT_BASE --trust INPUT_TRUST --format github INPUT_ARGS
# so violations are annotations on the pull request's files, then the same
# check as markdown appended to $GITHUB_STEP_SUMMARY. With no base (a push,
# not a pull request) the whole ledger at HEAD is verified. The step's exit
# code is verify's: 0 every rule holds, 1 a rule failed, 2 usage or I/O.
set -euo pipefail

fail() {
  echo "error: $*" >&2
  exit 2
}

for var in GITHUB_WORKSPACE GITHUB_STEP_SUMMARY; do
  [[ -n "${!var:-}" ]] || fail "$var is not set: this script is the gitops-ledger action's verify step and runs inside a GitHub Actions job"
done
[[ -n "${INPUT_TRUST:-}" ]] ||
  fail "the action's trust input is empty: set it to sha256:<id of policy version 1> (printed by gitops-ledger policy sign), kept where a pull request cannot change it, e.g. trust: \${{ vars.GITOPS_LEDGER_TRUST }}"
command -v gitops-ledger >/dev/null 2>&1 ||
  fail "gitops-ledger is not on PATH: the action's install step puts it there"

cd "$GITHUB_WORKSPACE"
check=(verify --rev HEAD)
if [[ -n "${INPUT_BASE:-}" ]]; then
  check+=(--base "$INPUT_BASE")
fi
check+=(--trust "$INPUT_TRUST")
# Extra arguments, split on white space as a command line would be.
read -r -a extra <<<"${INPUT_ARGS:-}"

status=0
gitops-ledger "${check[@]}" --format github "${extra[@]}" || status=$?

summary_status=0
gitops-ledger "${check[@]}" --format markdown "${extra[@]}" >>"$GITHUB_STEP_SUMMARY" || summary_status=$?
# 1 is the same failed rule the annotations above show; anything else means
# no summary was written, which must not hide the check's own result.
if ((summary_status > 1)); then
  echo "::warning title=gitops-ledger::the job summary could not be written (verify --format markdown exited $summary_status); the annotations above are the check's result"
fi
exit "$status"
