#!/usr/bin/env bash
# Regenerate the bundled example: the signed ledger in
# examples/gitops-config/promotions/, examples/gitops-config/versions.json and
# the `images:` entries of the api-service overlays.
#
#   examples/make-example.sh [path/to/gitops-ledger]
#
# The binary defaults to target/release/gitops-ledger under the repository
# root (a relative path given as $1 is taken from the current directory).
#
# Every record is written by the gitops-ledger CLI itself, with fixed clocks
# (GITOPS_LEDGER_NOW), so a second run gives a byte-identical ledger: ed25519
# signatures are deterministic. The demo keys in examples/keys/ are reused;
# only missing ones are generated (and then the policy, every id and the
# trust id in examples/gitops-config/README.md change).
#
# Only python3 is needed besides the binary; kubectl (with kustomize) is used
# for a final render check when it is installed.
set -euo pipefail
export LC_ALL=C
unset GITOPS_LEDGER_NOW GITOPS_LEDGER_PASSPHRASE

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

bin=${1:-$root/target/release/gitops-ledger}
case $bin in
  /*) ;;
  */*) bin=$PWD/$bin ;;
  *) bin=$(command -v -- "$bin" || true) ;;
esac
if [[ -z $bin || ! -x $bin ]]; then
  echo "make-example.sh: no gitops-ledger binary at '${1:-$root/target/release/gitops-ledger}'" >&2
  echo "  build it (cargo build --release) or pass its path as the first argument" >&2
  exit 2
fi

cd "$here"
cfg=gitops-config
app=api-service
img=ghcr.io/myorg/api-service
# Made-up digests (sha256 of the strings "api-service v1.4.1" / "... v1.4.2").
d141=sha256:c3d8fddf3131b904660fd25a8aebf0a2d7034a96f683b88c1f77e66ea9eb6e22
d142=sha256:93934687bd975670a9343449f40a2a9894d431b7f5c9972d5d3fdaa3d555b729

ids=$(mktemp)
trap 'rm -f "$ids"' EXIT

# gl TIME ARGS...: run the CLI with its clock fixed at TIME, echo what it
# says, and remember the id it prints for the record it wrote (the last
# write of a record gives its final id).
gl() {
  local now=$1 out
  shift
  printf '\n+ [%s] gitops-ledger -C %s %s\n' "$now" "$cfg" "$*"
  if ! out=$(GITOPS_LEDGER_NOW=$now "$bin" -C "$cfg" "$@"); then
    printf '%s\n' "$out"
    echo "make-example.sh: the command above failed" >&2
    exit 1
  fi
  printf '%s\n' "$out"
  printf '%s\n' "$out" | sed -n \
    -e '/^wrote promotions\/apps\/.*(.*@[0-9]*)$/{s/.*(\(.*\)@\([0-9]*\))$/\1 \2/;h;}' \
    -e '/^id sha256:[0-9a-f]\{64\}$/{s/^id //;H;x;s/\n/ /p;}' >>"$ids"
}

# 1. Demo keys (DEMO-ONLY, see keys/README.md). Git keeps no file modes, so
#    set 0600 on the private keys again.
for who in alice bob ci-bot; do
  if [[ ! -f keys/$who ]]; then
    rm -f "keys/$who.pub"
    "$bin" keygen --comment "$who-DEMO-ONLY@example.com" "keys/$who"
  elif [[ ! -f keys/$who.pub ]]; then
    echo "make-example.sh: keys/$who exists but keys/$who.pub does not" >&2
    exit 2
  fi
  chmod 600 "keys/$who"
done

# 2. Start over: the ledger and versions.json are rebuilt from nothing.
rm -rf "$cfg/promotions" "$cfg/versions.json"

# 3. Policy version 1: dev (ci-bot) -> staging (alice or bob) -> production
#    (alice and bob, 24h soak in staging), plus a production change freeze
#    that lets only rollbacks through. Root: alice and bob, threshold 2.
gl 2026-10-01T09:00:00Z init \
  --key alice=keys/alice.pub --key bob=keys/bob.pub --key ci-bot=keys/ci-bot.pub --ci ci-bot
if [[ ! -f $cfg/promotions/policy/00000001.json ]]; then
  echo "make-example.sh: '$bin' init exited 0 but wrote no policy; is it a stale build?" >&2
  exit 1
fi
python3 - "$cfg/promotions/policy/00000001.json" <<'EOF'
import json, sys
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    policy = json.load(f)
prod = [e for e in policy["environments"] if e["name"] == "production"]
assert len(prod) == 1, "init's template has no production environment"
prod[0]["freeze"] = [{
    "start": "2026-10-20T00:00:00Z",
    "end": "2026-10-22T00:00:00Z",
    "allow_rollback": True,
}]
with open(path, "w", encoding="utf-8") as f:
    f.write(json.dumps(policy, indent=2, ensure_ascii=False) + "\n")
EOF
gl 2026-10-01T09:10:00Z policy sign --key keys/alice
gl 2026-10-01T09:30:00Z policy sign --key keys/bob

# 4. Release v1.4.1: CI puts it in dev, bob promotes what dev runs to
#    staging, alice promotes staging to production and bob approves.
gl 2026-10-05T10:00:00Z promote --app $app --env dev --key keys/ci-bot \
  --image "$img@$d141=v1.4.1" --reason "CI: build of main, release v1.4.1"
gl 2026-10-06T14:00:00Z promote --app $app --env staging --key keys/bob \
  --reason "v1.4.1 healthy in dev for a day"
gl 2026-10-08T09:00:00Z promote --app $app --env production --key keys/alice \
  --reason "weekly release: v1.4.1"
gl 2026-10-08T09:20:00Z approve $app@3 --key keys/bob

# 5. Release v1.4.2, the same way (production lands the day before the freeze).
gl 2026-10-14T11:00:00Z promote --app $app --env dev --key keys/ci-bot \
  --image "$img@$d142=v1.4.2" --reason "CI: build of main, release v1.4.2"
gl 2026-10-15T16:00:00Z promote --app $app --env staging --key keys/alice \
  --reason "v1.4.2 healthy in dev for a day"
gl 2026-10-19T10:00:00Z promote --app $app --env production --key keys/alice \
  --reason "weekly release: v1.4.2"
gl 2026-10-19T10:25:00Z approve $app@6 --key keys/bob

# 6. v1.4.2 misbehaves in production: roll back to v1.4.1, inside the freeze
#    (the policy lets rollbacks through), two signers as always.
gl 2026-10-21T08:30:00Z promote --app $app --env production --key keys/alice \
  --rollback --image "$img@$d141=v1.4.1" \
  --reason "v1.4.2 raised p99 latency of /orders from 180 ms to 900 ms; back to v1.4.1, the last good digest"
gl 2026-10-21T08:40:00Z approve $app@7 --key keys/bob

# 7. Projection: versions.json and the overlays' images: entries, written the
#    way DESIGN.md "Projection" says (the CLI has no `project` command yet).
python3 - "$cfg" "$ids" <<'EOF'
import glob, hashlib, json, os, re, sys

cfg, ids_file = sys.argv[1], sys.argv[2]

def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)

# Final id of each record: the last id the CLI printed for it.
ids = {}
with open(ids_file) as f:
    for line in f:
        a, seq, rid = line.split()
        ids[(a, int(seq))] = rid

policies = sorted(glob.glob(os.path.join(cfg, "promotions/policy/*.json")))
policy = load(policies[-1])
overlay_tmpl = policy.get("overlay")

apps = {}     # app -> env -> {"seq", "id", "at", "images"}
tags = {}     # (app, env) -> image -> tag or None
for path in sorted(glob.glob(os.path.join(cfg, "promotions/apps/*/*.json"))):
    rec = load(path)
    a, seq = rec["app"], rec["seq"]
    rid = ids.get((a, seq))
    if rid is None:
        sys.exit(f"make-example.sh: the CLI printed no id for {a}@{seq}")
    # Cross-check against the id rule (sha256 of the JCS form). Sorting keys
    # with compact separators equals RFC 8785 only because every value in
    # these records is an ASCII string, an integer or null.
    jcs = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    own = "sha256:" + hashlib.sha256(jcs.encode()).hexdigest()
    if own != rid:
        sys.exit(f"make-example.sh: {path}: the CLI printed id {rid}, the file hashes to {own}")
    if rec["kind"] == "evidence":
        continue  # evidence changes no state
    env = apps.setdefault(a, {}).setdefault(rec["env"], {"images": {}})
    env.update(seq=seq, id=rid, at=rec["at"])
    for im in rec["images"]:
        env["images"][im["name"]] = im["digest"]
        tags.setdefault((a, rec["env"]), {})[im["name"]] = im.get("tag")

with open(os.path.join(cfg, "versions.json"), "w", encoding="utf-8") as f:
    f.write(json.dumps({"schema": "gitops-ledger/versions/v1", "apps": apps},
                       indent=2, sort_keys=True) + "\n")

# Overlay merge: set newTag/digest (double-quoted) in the images[] entry of
# each image, keep every other byte. This small editor only understands
# block-style entries that start with `- name:`; it fails on anything else.
def set_images(path, state, tagmap):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    start = next((i for i, l in enumerate(lines) if re.match(r"images:\s*(#.*)?$", l)), None)
    if start is None:
        sys.exit(f"make-example.sh: {path} has no top-level images: list")
    end = start + 1
    while end < len(lines) and (lines[end] == "" or lines[end][0] in " #-"):
        end += 1
    while end > start + 1 and lines[end - 1].strip() == "":
        end -= 1
    items = [i for i in range(start + 1, end) if re.match(r"\s*- ", lines[i])]
    for name, digest in state.items():
        tag = tagmap.get(name)
        entry = None
        for n, i in enumerate(items):
            m = re.match(r"(\s*)- name:\s*(\"[^\"]*\"|'[^']*'|[^\s#]+)\s*(#.*)?$", lines[i])
            if m and m.group(2).strip("\"'") == name:
                stop = items[n + 1] if n + 1 < len(items) else end
                entry = (i, stop, " " * (len(m.group(1)) + 2))
        if entry is None:
            sys.exit(f"make-example.sh: {path} has no images entry `- name: {name}`")
        i, stop, ind = entry
        body = lines[i + 1:stop]
        for key, value in (("newTag", tag), ("digest", digest)):
            pat = re.compile(r"(" + ind + key + r":\s*)(\"[^\"]*\"|'[^']*'|[^\s#]*)(.*)$")
            at = next((k for k, l in enumerate(body) if pat.match(l)), None)
            if value is None:
                if at is not None:
                    del body[at]
            elif at is None:
                body.append(f'{ind}{key}: "{value}"')
            else:
                body[at] = pat.sub(lambda m: m.group(1) + f'"{value}"' + m.group(3), body[at])
        lines[i + 1:stop] = body
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))

if overlay_tmpl:
    for a, envs in sorted(apps.items()):
        for e, st in sorted(envs.items()):
            path = os.path.join(cfg, overlay_tmpl.format(app=a, env=e))
            set_images(path, st["images"], tags[(a, e)])
            print(f"projected {path}")
print(f"projected {cfg}/versions.json")

p1 = load(os.path.join(cfg, "promotions/policy/00000001.json"))
jcs = json.dumps(p1, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
print("policy version 1 id (for --trust): sha256:" + hashlib.sha256(jcs.encode()).hexdigest())
EOF

# 8. Checks: the ledger verifies today, and each overlay renders to
#    name:tag@digest.
printf '\n+ gitops-ledger -C %s verify\n' "$cfg"
"$bin" -C "$cfg" verify
if command -v kubectl >/dev/null 2>&1; then
  for want in "dev $img:v1.4.2@$d142" "staging $img:v1.4.2@$d142" "production $img:v1.4.1@$d141"; do
    env=${want%% *}
    got=$(kubectl kustomize "$cfg/apps/$app/overlays/$env" | sed -n 's/^[ -]*image: //p')
    if [[ $got != "${want#* }" ]]; then
      echo "make-example.sh: $env renders image '$got', expected '${want#* }'" >&2
      exit 1
    fi
    echo "kubectl kustomize $env: image $got"
  done
fi
