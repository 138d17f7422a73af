#!/usr/bin/env python3
"""Prove tests/it/attest_check.py: it passes a correct envelope and fails broken ones.

    python3 tests/it/attest_check_selftest.py

Builds DSSE envelopes here, with the `cryptography` package and the test
keys of tests/data/vectors/keys (and a fresh ssh-keygen key when ssh-keygen
is installed), independently of gitops-ledger: a correct one, which the
checker must accept, and broken ones (wrong PAE, another signer, wrong
predicate type, missing verifier.id, unknown fields, ...), each of which it
must reject with exit 1 and a message naming what failed. .ci/run runs this
before the tests that run the checker on gitops-ledger's own envelopes.
Exit 0 when every expectation holds; the last line counts them.
"""

import base64
import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "attest_check.py")
KEYS = os.path.normpath(os.path.join(HERE, "..", "data", "vectors", "keys"))

PAYLOAD_TYPE = "application/vnd.in-toto+json"
RECORD_ID = hashlib.sha256(b"record 3").hexdigest()
POLICY_ID = hashlib.sha256(b"policy 1").hexdigest()


def good_statement():
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": "ghcr.io/myorg/api-service", "digest": {"sha256": "6" * 64}},
            {"name": "ghcr.io/myorg/api-worker", "digest": {"sha256": "7" * 64}},
        ],
        "predicateType": "https://slsa.dev/verification_summary/v1",
        "predicate": {
            "verifier": {"id": "pkg:cargo/gitops-ledger@0.1.0"},
            "timeVerified": "2026-11-28T10:00:00Z",
            "resourceUri": "gitops-ledger:api-service/production",
            "policy": {"uri": "promotions/policy/00000001.json", "digest": {"sha256": POLICY_ID}},
            "inputAttestations": [
                {"uri": "promotions/apps/api-service/00000003.json", "digest": {"sha256": RECORD_ID}},
            ],
            "verificationResult": "PASSED",
            "verifiedLevels": ["GITOPS_LEDGER_ENV_PRODUCTION"],
        },
    }


def pae(payload_type, body):
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def load_private(path):
    with open(path, "rb") as file:
        return serialization.load_ssh_private_key(file.read(), password=None)


def keyid_of(pub_path):
    blob = base64.b64decode(open(pub_path).read().split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def envelope(statement, key, keyid, message=pae, payload_type=PAYLOAD_TYPE, body=None):
    """A DSSE envelope; `message` makes the bytes signed from (type, body)."""
    body = body if body is not None else json.dumps(statement, separators=(",", ":")).encode()
    sig = key.sign(message(payload_type, body))
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(body).decode(),
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}],
    }


def edited(edit):
    statement = good_statement()
    edit(statement)
    return statement


def main():
    work = tempfile.mkdtemp(prefix="attest-check-selftest-")
    alice, bob = load_private(os.path.join(KEYS, "alice")), load_private(os.path.join(KEYS, "bob"))
    alice_pub, bob_pub = os.path.join(KEYS, "alice.pub"), os.path.join(KEYS, "bob.pub")
    alice_id = keyid_of(alice_pub)
    good = envelope(good_statement(), alice, alice_id)
    ok_line = "accepted by alice.pub's key, rejected by bob.pub's key; statement and predicate valid"

    def tampered():
        env = copy.deepcopy(good)
        env["payload"] = base64.b64encode(base64.b64decode(env["payload"]).replace(b"PASSED", b"FAILED")).decode()
        return env

    def hex_sig():
        env = copy.deepcopy(good)
        env["signatures"][0]["sig"] = base64.b64decode(env["signatures"][0]["sig"]).hex()
        return env

    def extra_envelope_field():
        env = copy.deepcopy(good)
        env["payloadEncoding"] = "base64"
        return env

    def signed(edit):
        return envelope(edited(edit), alice, alice_id)

    # (name, document, checker arguments after the file, exit code, text expected in the output)
    cases = [
        ("correct envelope", good, [alice_pub, bob_pub], 0, ok_line),
        (
            "correct envelope with break-glass level",
            signed(lambda s: s["predicate"]["verifiedLevels"].append("GITOPS_LEDGER_BREAK_GLASS")),
            [alice_pub, bob_pub],
            0,
            ok_line,
        ),
        (
            "env name with - and . upper-cased to _",
            signed(lambda s: s["predicate"].update(resourceUri="gitops-ledger:api-service/prod-eu.1", verifiedLevels=["GITOPS_LEDGER_ENV_PROD_EU_1"])),
            [alice_pub, bob_pub],
            0,
            ok_line,
        ),
        (
            "PAE missing: signature over the bare payload",
            envelope(good_statement(), alice, alice_id, message=lambda t, b: b),
            [alice_pub, bob_pub],
            1,
            "rejects the signature with",
        ),
        (
            "PAE with the base64 payload's length and bytes",
            envelope(good_statement(), alice, alice_id, message=lambda t, b: pae(t, base64.b64encode(b))),
            [alice_pub, bob_pub],
            1,
            "rejects the signature with",
        ),
        (
            "PAE without the DSSEv1 prefix",
            envelope(good_statement(), alice, alice_id, message=lambda t, b: pae(t, b)[len(b"DSSEv1 "):]),
            [alice_pub, bob_pub],
            1,
            "rejects the signature with",
        ),
        ("payload changed after signing", tampered(), [alice_pub, bob_pub], 1, "rejects the signature with"),
        (
            "signed by bob under alice's keyid",
            envelope(good_statement(), bob, alice_id),
            [alice_pub, bob_pub],
            1,
            "rejects the signature with",
        ),
        ("keys given the other way round", good, [bob_pub, alice_pub], 1, "is not the SHA256 fingerprint"),
        (
            "keyid in another form (hex)",
            envelope(good_statement(), alice, alice_id.encode().hex()),
            [alice_pub, bob_pub],
            1,
            "is not the SHA256 fingerprint",
        ),
        ("signature hex, not base64", hex_sig(), [alice_pub, bob_pub], 1, "a raw ed25519 signature has 64"),
        ("unknown envelope field", extra_envelope_field(), [alice_pub, bob_pub], 1, "unknown ['payloadEncoding']"),
        (
            "wrong payloadType",
            envelope(good_statement(), alice, alice_id, payload_type="application/json"),
            [alice_pub, bob_pub],
            1,
            "envelope.payloadType",
        ),
        (
            "wrong predicate type",
            signed(lambda s: s.update(predicateType="https://slsa.dev/provenance/v1")),
            [alice_pub, bob_pub],
            1,
            "statement.predicateType",
        ),
        (
            "wrong statement type",
            signed(lambda s: s.update(_type="https://in-toto.io/Statement/v0.1")),
            [alice_pub, bob_pub],
            1,
            "Wrong statement type",
        ),
        ("no subject", signed(lambda s: s.update(subject=[])), [alice_pub, bob_pub], 1, "At least one subject"),
        (
            "subject digest upper-case",
            signed(lambda s: s["subject"][0]["digest"].update(sha256="A" * 64)),
            [alice_pub, bob_pub],
            1,
            "subject[0].digest.sha256",
        ),
        (
            "unknown statement field",
            signed(lambda s: s.update(comment="x")),
            [alice_pub, bob_pub],
            1,
            "'comment' is not a field of in_toto_attestation.v1.Statement",
        ),
        (
            "statement field under its proto name",
            signed(lambda s: s.update(predicate_type=s.pop("predicateType"))),
            [alice_pub, bob_pub],
            1,
            "'predicate_type' is not a field",
        ),
        (
            "predicate field under its proto name",
            signed(lambda s: s["predicate"].update(resource_uri=s["predicate"].pop("resourceUri"))),
            [alice_pub, bob_pub],
            1,
            "'resource_uri' is not a field",
        ),
        (
            "unknown field in the verifier",
            signed(lambda s: s["predicate"]["verifier"].update(version={"gitops-ledger": "0.1.0"})),
            [alice_pub, bob_pub],
            1,
            "predicate.verifier: 'version' is not a field",
        ),
        (
            "verifiedLevels a string",
            signed(lambda s: s["predicate"].update(verifiedLevels="GITOPS_LEDGER_ENV_PRODUCTION")),
            [alice_pub, bob_pub],
            1,
            "makes it an array of strings",
        ),
        (
            "missing verifier.id",
            signed(lambda s: s["predicate"]["verifier"].pop("id")),
            [alice_pub, bob_pub],
            1,
            "predicate.verifier.id: required",
        ),
        (
            "unknown predicate field",
            signed(lambda s: s["predicate"].update(verifiedLevel=["GITOPS_LEDGER_ENV_PRODUCTION"])),
            [alice_pub, bob_pub],
            1,
            "'verifiedLevel' is not a field of in_toto_attestation.predicates.vsa.v1.VerificationSummary",
        ),
        (
            "timeVerified not a timestamp",
            signed(lambda s: s["predicate"].update(timeVerified="yesterday")),
            [alice_pub, bob_pub],
            1,
            "not a SLSA VSA 1.0 VerificationSummary",
        ),
        (
            "missing timeVerified",
            signed(lambda s: s["predicate"].pop("timeVerified")),
            [alice_pub, bob_pub],
            1,
            "predicate.timeVerified: required",
        ),
        (
            "verificationResult neither PASSED nor FAILED",
            signed(lambda s: s["predicate"].update(verificationResult="OK")),
            [alice_pub, bob_pub],
            1,
            "allows PASSED or FAILED",
        ),
        (
            "verificationResult FAILED",
            signed(lambda s: s["predicate"].update(verificationResult="FAILED")),
            [alice_pub, bob_pub],
            1,
            "attests only what passed",
        ),
        (
            "input attestation without a digest",
            signed(lambda s: s["predicate"]["inputAttestations"][0].pop("digest")),
            [alice_pub, bob_pub],
            1,
            "MUST contain a digest",
        ),
        (
            "policy without a uri",
            signed(lambda s: s["predicate"]["policy"].pop("uri")),
            [alice_pub, bob_pub],
            1,
            "MUST contain a uri",
        ),
        (
            "no verifiedLevels",
            signed(lambda s: s["predicate"].update(verifiedLevels=[])),
            [alice_pub, bob_pub],
            1,
            "verifiedLevels: required",
        ),
        (
            "level of another environment",
            signed(lambda s: s["predicate"].update(verifiedLevels=["GITOPS_LEDGER_ENV_STAGING"])),
            [alice_pub, bob_pub],
            1,
            "predicate.verifiedLevels: expected",
        ),
        (
            "verifier of another tool",
            signed(lambda s: s["predicate"]["verifier"].update(id="https://example.com/verifier")),
            [alice_pub, bob_pub],
            1,
            "not pkg:cargo/gitops-ledger@<version>",
        ),
        (
            "input attestation of another app",
            signed(lambda s: s["predicate"]["inputAttestations"][0].update(uri="promotions/apps/other/00000003.json")),
            [alice_pub, bob_pub],
            1,
            "not a record path of app api-service",
        ),
        (
            "duplicate key in the payload",
            envelope(None, alice, alice_id, body=b'{"_type":"a","_type":"https://in-toto.io/Statement/v1"}'),
            [alice_pub, bob_pub],
            1,
            "duplicate key '_type'",
        ),
        ("the same key twice", good, [alice_pub, alice_pub], 2, "hold the same key"),
        ("predicate alone", good_statement()["predicate"], ["--predicate"], 0, "predicate valid"),
        (
            "predicate alone, unknown field",
            dict(good_statement()["predicate"], predicateType="x"),
            ["--predicate"],
            1,
            "'predicateType' is not a field",
        ),
    ]

    if shutil.which("ssh-keygen"):
        # A key made by OpenSSH itself: the fingerprint is then also compared
        # with what `ssh-keygen -l` prints.
        fresh = os.path.join(work, "fresh")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "selftest", "-f", fresh], check=True)
        fresh_id = keyid_of(fresh + ".pub")
        printed = subprocess.run(["ssh-keygen", "-l", "-f", fresh + ".pub"], capture_output=True, text=True, check=True)
        assert printed.stdout.split()[1] == fresh_id, (printed.stdout, fresh_id)
        cases.append(
            (
                "correct envelope, fresh ssh-keygen key",
                envelope(good_statement(), load_private(fresh), fresh_id),
                [fresh + ".pub", alice_pub],
                0,
                "accepted by fresh.pub's key, rejected by alice.pub's key; statement and predicate valid",
            )
        )
    else:
        print("note: ssh-keygen is not installed: no fresh OpenSSH key case")

    passed = failed = 0
    for i, (name, document, args, code, expected) in enumerate(cases):
        path = os.path.join(work, f"case{i}.json")
        with open(path, "w") as file:
            json.dump(document, file, indent=2)
        argv = [sys.executable, CHECKER, "--predicate", path] if args == ["--predicate"] else [sys.executable, CHECKER, path, *args]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        output = result.stdout + result.stderr
        last = result.stdout.rstrip("\n").split("\n")[-1]
        good_output = last == expected if code == 0 else expected in output
        if result.returncode == code and good_output:
            passed += 1
            shown = last if code == 0 else result.stderr.strip()
            print(f"ok   {name}: exit {code}: {shown}")
        else:
            failed += 1
            print(f"FAIL {name}: expected exit {code} and {expected!r}, got exit {result.returncode}:\n{output}")
    shutil.rmtree(work)
    print(f"attest_check: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
