#!/usr/bin/env bash
# Git at a million files: `promote --commit` and `git status` on a ledger
# fixture under each index setting of docs/scale.md. Not run by CI.
#
#   GITOPS_LEDGER_BENCH_1M=1 cargo bench --bench verify -- --list   # builds the fixtures
#   benches/git_at_scale.sh target/bench-fixtures/verify-1000000 500
#
# Each setting starts from the fixture's commit and is put back afterwards
# (the index is rewritten as v2 with no extensions), so runs can follow each
# other on the same fixture.
set -euo pipefail

repo=$(cd "$1" && pwd)
apps=${2:-50}
binary=$(cd "$(dirname "$0")/.." && pwd)/target/release/gitops-ledger
key=$(cd "$(dirname "$0")/.." && pwd)/tests/data/vectors/keys/ci
runs=${RUNS:-3}
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GITOPS_LEDGER_NOW=2030-01-01T00:00:00Z
cd "$repo"
start=$(git rev-parse HEAD)
app=$(printf 'app-%03d' $((apps - 1)))

seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null || { echo "failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'; }
index_facts() {
    local version size
    version=$(od -An -j4 -N4 -tu1 .git/index | awk '{print $4}')
    # With a split index, the shared part is read too.
    size=$(cat .git/index .git/sharedindex.* 2>/dev/null | wc -c)
    printf 'v%s %.1f MB' "$version" "$(echo "$size / 1000000" | bc -l)"
}

reset_settings() {
    local setting
    for setting in feature.manyFiles index.version index.skipHash core.untrackedCache core.splitIndex; do
        git config --unset-all "$setting" || true
    done
    git reset -q --hard "$start"
    git update-index --index-version 2 --no-untracked-cache --no-split-index
    rm -f .git/sharedindex.*
    git status >/dev/null
}

measure() {
    local label=$1 n=0 t
    shift
    reset_settings
    "$@"
    # Twice: the first run builds the untracked cache and writes the index.
    git status >/dev/null
    git status >/dev/null
    local before
    before=$(index_facts)
    local status_times=() promote_times=() after_times=()
    for ((i = 0; i < runs; i++)); do
        t=$(seconds git status)
        status_times+=("$t")
    done
    for ((i = 0; i < runs; i++)); do
        n=$((n + 1))
        t=$(seconds "$binary" promote --app "$app" --env dev --commit --key "$key" \
            --image "ghcr.io/bench/$app@sha256:$(printf '%064x' $((0xbe9c0000 + n)))")
        promote_times+=("$t")
        # The status right after a commit made through gix: what the rewrite kept.
        t=$(seconds git status)
        after_times+=("$t")
    done
    printf '| %s | %s | %s s | %s s | %s s (%s) |\n' "$label" "$before" \
        "$(printf '%s\n' "${promote_times[@]}" | median)" \
        "$(printf '%s\n' "${status_times[@]}" | median)" \
        "$(printf '%s\n' "${after_times[@]}" | median)" "$(index_facts)"
}

echo "| setting | index before | promote --commit | git status | git status after promote (index then) |"
echo "|---|---|---|---|---|"
measure "default (v2)" true
measure "index.skipHash" git config index.skipHash true
measure "feature.manyFiles" sh -c 'git config feature.manyFiles true && git update-index --index-version 4'
measure "manyFiles + index.skipHash" sh -c 'git config feature.manyFiles true && git config index.skipHash true && git update-index --index-version 4'
measure "core.untrackedCache" git config core.untrackedCache true
measure "core.splitIndex" git config core.splitIndex true
reset_settings
