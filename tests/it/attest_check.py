#!/usr/bin/env python3
"""Check a `gitops-ledger attest` envelope with implementations nobody here wrote.

    python3 tests/it/attest_check.py ENVELOPE.json SIGNER.pub OTHER.pub
    python3 tests/it/attest_check.py --predicate PREDICATE.json

The first form checks a DSSE envelope (docs/attest.md):

- the envelope's shape: exactly `payloadType`, `payload` and `signatures`,
  one signature `{keyid, sig}`, standard base64 (padded, no URL-safe
  alphabet), a raw 64-byte signature, `payloadType`
  `application/vnd.in-toto+json`, and `keyid` the `SHA256:` fingerprint of
  SIGNER.pub as `ssh-keygen -l` prints it (compared with ssh-keygen's own
  output when ssh-keygen is on PATH);
- the signature, with securesystemslib's DSSE `Envelope.verify` (PyPI): it
  must accept with SIGNER.pub's key and raise `VerificationError` with
  OTHER.pub's key, given under the same keyid, so that the rejection is the
  ed25519 check and not a keyid mismatch;
- the statement, parsed into the in-toto Statement v1 protobuf of the
  `in-toto-attestation` package (unknown fields refused) and checked with its
  `Statement.validate()`; `_type`, `predicateType` and every subject's
  `sha256` digest are checked too;
- the predicate, as the second form does.

The second form checks a predicate alone (`attest --predicate-only`): parsed
into the SLSA VSA 1.0 protobuf (`VerificationSummary`) of the same package
with unknown fields refused, the fields that the VSA 1.0 spec marks required
(verifier.id, timeVerified, resourceUri, policy with a uri,
verificationResult PASSED or FAILED, verifiedLevels), ResourceDescriptor
rules (`ResourceDescriptor.validate()`; policy needs a uri, each input
attestation a uri and a digest; digests of the standard algorithms are
lower-case hex of their length), and the fields as DESIGN.md's
"Attestations" section pins them for gitops-ledger (verifier.id
`pkg:cargo/gitops-ledger@<version>`, resourceUri `gitops-ledger:<app>/<env>`,
`verifiedLevels` `GITOPS_LEDGER_ENV_<ENV>` and optionally
`GITOPS_LEDGER_BREAK_GLASS`, sha256 digests, record and policy paths).

The VSA spec tells consumers to ignore unknown fields; this checker refuses
them on purpose: it checks what gitops-ledger produces, and a field nobody
defined is a bug there.

Output and exit codes:
- 0: every check held. The last line on stdout is exactly
  `accepted by <SIGNER>'s key, rejected by <OTHER>'s key; statement and predicate valid`
  with <SIGNER> and <OTHER> the base names of the two key files as given
  (`alice.pub`), or `predicate valid` for `--predicate`.
- 1: a check failed; stderr says which (`attest_check: FAILED: ...`).
- 2: usage, an unreadable file, or a missing Python package (stderr says
  what to install: securesystemslib[crypto] and in-toto-attestation, as
  .ci/run installs them).
- 3: the checker itself crashed (a traceback on stderr): no verdict.
"""

import base64
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import traceback

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"

NAME = r"[a-z0-9][a-z0-9._-]{0,62}"
HEX64 = re.compile(r"[0-9a-f]{64}")
# Lower-case hex lengths of the DigestSet algorithms whose length is fixed
# (in-toto attestation spec v1, digest_set.md).
HEX_DIGEST_LENGTHS = {
    "sha256": 64,
    "sha224": 56,
    "sha384": 96,
    "sha512": 128,
    "sha512_224": 56,
    "sha512_256": 64,
    "sha3_224": 56,
    "sha3_256": 64,
    "sha3_384": 96,
    "sha3_512": 128,
    "ripemd160": 40,
    "sm3": 64,
    "sha1": 40,
    "md5": 32,
}


class Failed(Exception):
    """A check did not hold (exit 1)."""


class Usage(Exception):
    """Bad arguments, an unreadable file or a missing package (exit 2)."""


def load_libraries():
    try:
        from google.protobuf import json_format
        from in_toto_attestation.predicates.vsa.v1 import vsa_pb2
        from in_toto_attestation.v1 import statement_pb2
        from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
        from in_toto_attestation.v1.statement import Statement
        from securesystemslib.dsse import Envelope
        from securesystemslib.exceptions import VerificationError
        from securesystemslib.signer import SSlibKey

        # securesystemslib verifies ed25519 through `cryptography` (its
        # [crypto] extra); without it every verify fails, and a rejection
        # would prove nothing.
        import cryptography  # noqa: F401
    except ImportError as error:
        raise Usage(
            f"{error}: install the checker's packages "
            "(python3 -m pip install 'securesystemslib[crypto]' in-toto-attestation; .ci/run pins them)"
        ) from error
    return {
        "json_format": json_format,
        "vsa_pb2": vsa_pb2,
        "statement_pb2": statement_pb2,
        "ResourceDescriptor": ResourceDescriptor,
        "Statement": Statement,
        "Envelope": Envelope,
        "VerificationError": VerificationError,
        "SSlibKey": SSlibKey,
    }


def read_bytes(path):
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise Usage(f"cannot read {path}: {error.strerror}") from error


def strict_json(data, what):
    """JSON with duplicate keys, NaN/Infinity and floats refused."""

    def no_duplicates(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise Failed(f"{what}: duplicate key {key!r}")
            seen[key] = value
        return seen

    def no_constant(name):
        raise Failed(f"{what}: {name} is not JSON")

    def no_float(text):
        raise Failed(f"{what}: number {text} is not an integer (no field here holds a float)")

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Failed(f"{what}: not UTF-8 ({error})") from error
    try:
        return json.loads(
            text, object_pairs_hook=no_duplicates, parse_constant=no_constant, parse_float=no_float
        )
    except json.JSONDecodeError as error:
        raise Failed(f"{what}: not JSON ({error})") from error


def std_base64(text, what):
    """Decode standard base64 (RFC 4648 section 4, padded) and refuse anything else."""
    if not isinstance(text, str) or not text:
        raise Failed(f"{what}: not a non-empty base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as error:
        raise Failed(f"{what}: not standard base64 ({error})") from error
    if base64.b64encode(raw).decode("ascii") != text:
        raise Failed(f"{what}: not canonical standard base64 (padding or trailing bits)")
    return raw


def read_ssh_ed25519(path):
    """The raw 32-byte key and the wire blob of an OpenSSH `ssh-ed25519` .pub line."""
    lines = [line for line in read_bytes(path).decode("utf-8", "replace").splitlines() if line.strip()]
    if len(lines) != 1:
        raise Usage(f"{path}: expected one OpenSSH public key line, found {len(lines)} lines")
    fields = lines[0].split()
    if len(fields) < 2 or fields[0] != "ssh-ed25519":
        raise Usage(f"{path}: not an 'ssh-ed25519 AAAA...' public key line")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except ValueError as error:
        raise Usage(f"{path}: the key's base64 is invalid ({error})") from error
    # string "ssh-ed25519" || string key (RFC 8709 section 4): 4-byte lengths.
    expected_type = b"ssh-ed25519"
    if (
        len(blob) != 4 + len(expected_type) + 4 + 32
        or int.from_bytes(blob[0:4], "big") != len(expected_type)
        or blob[4:15] != expected_type
        or int.from_bytes(blob[15:19], "big") != 32
    ):
        raise Usage(f"{path}: the key blob is not string 'ssh-ed25519' + string of 32 bytes")
    return blob[19:], blob


def fingerprint(blob):
    """What `ssh-keygen -l -E sha256` prints: SHA256: and unpadded base64."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def ssh_keygen_fingerprint(path):
    """ssh-keygen's own fingerprint of the key, or None when it is not installed."""
    if shutil.which("ssh-keygen") is None:
        return None
    result = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", path], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise Usage(f"ssh-keygen -l -f {path} failed: {result.stderr.strip()}")
    return result.stdout.split()[1]


def exact_keys(obj, keys, what):
    if not isinstance(obj, dict):
        raise Failed(f"{what}: missing, or not a JSON object")
    if set(obj) != set(keys):
        missing = sorted(set(keys) - set(obj))
        extra = sorted(set(obj) - set(keys))
        raise Failed(f"{what}: fields must be exactly {sorted(keys)} (missing {missing}, unknown {extra})")


def check_digest_set(digest, what):
    if not isinstance(digest, dict) or not digest:
        raise Failed(f"{what}: a DigestSet needs at least one digest")
    for algorithm, value in digest.items():
        length = HEX_DIGEST_LENGTHS.get(algorithm)
        if length is not None and not re.fullmatch(f"[0-9a-f]{{{length}}}", value):
            raise Failed(f"{what}.{algorithm}: not {length} lower-case hex digits: {value!r}")


def check_sha256_only(digest, what):
    exact_keys(digest, ["sha256"], what)
    if not HEX64.fullmatch(digest["sha256"]):
        raise Failed(f"{what}.sha256: not 64 lower-case hex digits: {digest['sha256']!r}")


def json_names_only(obj, descriptor, what):
    """Refuse a key that is not a field's JSON name. protobuf's ParseDict also
    takes the proto field names (`resource_uri` for `resourceUri`), which
    the JSON form of these specs does not have."""
    if not isinstance(obj, dict):
        return
    fields = {field.json_name: field for field in descriptor.fields}
    for key, value in obj.items():
        field = fields.get(key)
        if field is None:
            raise Failed(f"{what}: {key!r} is not a field of {descriptor.full_name} ({', '.join(fields)})")
        message = field.message_type
        if message is None or message.GetOptions().map_entry or message.full_name.startswith("google.protobuf."):
            continue
        # protobuf 7 has is_repeated; older versions only the label.
        repeated = getattr(field, "is_repeated", None)
        if repeated is None:
            repeated = field.label == field.LABEL_REPEATED
        for i, item in enumerate(value if repeated and isinstance(value, list) else [value]):
            json_names_only(item, message, f"{what}.{key}[{i}]" if repeated else f"{what}.{key}")


def check_resource_descriptor(libs, pb, what):
    """The VSA's policy and input attestations are ResourceDescriptors in the
    spec; the protobuf has its own uri+digest messages for them."""
    try:
        libs["ResourceDescriptor"](uri=pb.uri, digest=dict(pb.digest)).validate()
    except ValueError as error:
        raise Failed(f"{what}: {error} (in-toto ResourceDescriptor.validate)") from error


def env_level(env):
    return "GITOPS_LEDGER_ENV_" + env.upper().replace("-", "_").replace(".", "_")


def check_predicate(libs, predicate, what="predicate"):
    """SLSA VSA 1.0, then the fields DESIGN.md pins for gitops-ledger."""
    if not isinstance(predicate, dict):
        raise Failed(f"{what}: not a JSON object")
    # The package's VerificationSummary (0.9.3, and its repository's vsa.proto
    # as of 2025) declares verified_levels a single string, while the VSA 1.0
    # spec makes it an array of SlsaResult strings (in-toto/attestation
    # issue 425): the array is checked here against the spec, and the rest
    # of the predicate through the protobuf.
    levels = predicate.get("verifiedLevels")
    if "verifiedLevels" in predicate and (
        not isinstance(levels, list) or not all(isinstance(level, str) for level in levels)
    ):
        raise Failed(f"{what}.verifiedLevels: SLSA VSA 1.0 makes it an array of strings, not {levels!r}")
    rest = {key: value for key, value in predicate.items() if key != "verifiedLevels"}
    json_format = libs["json_format"]
    pb = libs["vsa_pb2"].VerificationSummary()
    json_names_only(predicate, pb.DESCRIPTOR, what)
    try:
        json_format.ParseDict(copy.deepcopy(rest), pb, ignore_unknown_fields=False)
    except json_format.ParseError as error:
        raise Failed(f"{what}: not a SLSA VSA 1.0 VerificationSummary: {error}") from error

    # What the VSA 1.0 spec marks required.
    if "verifier" not in predicate or not pb.verifier.id:
        raise Failed(f"{what}.verifier.id: required by SLSA VSA 1.0, missing or empty")
    if not pb.HasField("time_verified"):
        raise Failed(f"{what}.timeVerified: required by SLSA VSA 1.0, missing")
    if not pb.resource_uri:
        raise Failed(f"{what}.resourceUri: required by SLSA VSA 1.0, missing or empty")
    if not pb.HasField("policy"):
        raise Failed(f"{what}.policy: required by SLSA VSA 1.0, missing")
    check_resource_descriptor(libs, pb.policy, f"{what}.policy")
    if not pb.policy.uri:
        raise Failed(f"{what}.policy.uri: SLSA VSA 1.0 says the policy MUST contain a uri")
    if "digest" in predicate["policy"]:
        check_digest_set(predicate["policy"]["digest"], f"{what}.policy.digest")
    for i, attestation in enumerate(pb.input_attestations):
        where = f"{what}.inputAttestations[{i}]"
        check_resource_descriptor(libs, attestation, where)
        if len(attestation.digest) == 0:
            raise Failed(f"{where}.digest: SLSA VSA 1.0 says each input attestation MUST contain a digest")
        if not attestation.uri:
            raise Failed(f"{where}.uri: missing (gitops-ledger names each record by its path)")
        check_digest_set(predicate["inputAttestations"][i]["digest"], f"{where}.digest")
    if pb.verification_result not in ("PASSED", "FAILED"):
        raise Failed(
            f"{what}.verificationResult: SLSA VSA 1.0 allows PASSED or FAILED, not {pb.verification_result!r}"
        )
    if not levels:
        raise Failed(f"{what}.verifiedLevels: required by SLSA VSA 1.0, missing or empty")
    tracks = {}
    for level in levels:
        match = re.fullmatch(r"SLSA_([A-Z]+)_LEVEL_[0-9]+", level)
        if level.startswith("SLSA_") and not match:
            raise Failed(f"{what}.verifiedLevels: custom level {level!r} must not start with SLSA_")
        if match:
            if match.group(1) in tracks:
                raise Failed(f"{what}.verifiedLevels: more than one level of SLSA track {match.group(1)}")
            tracks[match.group(1)] = level

    # The fields as DESIGN.md ("Attestations") pins them.
    if not re.fullmatch(r"pkg:cargo/gitops-ledger@[0-9A-Za-z.+-]+", pb.verifier.id):
        raise Failed(f"{what}.verifier.id: not pkg:cargo/gitops-ledger@<version>: {pb.verifier.id!r}")
    time_verified = predicate["timeVerified"]
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", time_verified):
        raise Failed(f"{what}.timeVerified: not a UTC timestamp in whole seconds with Z: {time_verified!r}")
    resource = re.fullmatch(f"gitops-ledger:({NAME})/({NAME})", pb.resource_uri)
    if not resource:
        raise Failed(f"{what}.resourceUri: not gitops-ledger:<app>/<env>: {pb.resource_uri!r}")
    app, env = resource.groups()
    if not re.fullmatch(r"(.*/)?promotions/policy/[0-9]{8}\.json", pb.policy.uri):
        raise Failed(f"{what}.policy.uri: not a policy file path promotions/policy/NNNNNNNN.json: {pb.policy.uri!r}")
    check_sha256_only(predicate["policy"].get("digest"), f"{what}.policy.digest")
    if len(pb.input_attestations) == 0:
        raise Failed(f"{what}.inputAttestations: none (the records that set each image must be listed)")
    record_path = re.compile(rf"(.*/)?promotions/apps/{re.escape(app)}/[0-9]{{8}}\.json")
    for i, attestation in enumerate(predicate["inputAttestations"]):
        where = f"{what}.inputAttestations[{i}]"
        exact_keys(attestation, ["uri", "digest"], where)
        if not record_path.fullmatch(attestation["uri"]):
            raise Failed(f"{where}.uri: not a record path of app {app} (promotions/apps/{app}/NNNNNNNN.json): {attestation['uri']!r}")
        check_sha256_only(attestation["digest"], f"{where}.digest")
    if pb.verification_result != "PASSED":
        raise Failed(f"{what}.verificationResult: gitops-ledger attests only what passed, not {pb.verification_result!r}")
    if levels not in ([env_level(env)], [env_level(env), "GITOPS_LEDGER_BREAK_GLASS"]):
        raise Failed(
            f"{what}.verifiedLevels: expected [{env_level(env)!r}] or [{env_level(env)!r}, 'GITOPS_LEDGER_BREAK_GLASS'], got {levels}"
        )
    return app, env


def check_statement(libs, payload):
    statement = strict_json(payload, "payload")
    if not isinstance(statement, dict):
        raise Failed("payload: the statement is not a JSON object")
    json_format = libs["json_format"]
    pb = libs["statement_pb2"].Statement()
    json_names_only(statement, pb.DESCRIPTOR, "statement")
    try:
        json_format.ParseDict(copy.deepcopy(statement), pb, ignore_unknown_fields=False)
    except json_format.ParseError as error:
        raise Failed(f"statement: not an in-toto Statement v1: {error}") from error
    try:
        libs["Statement"].copy_from_pb(pb).validate()
    except ValueError as error:
        raise Failed(f"statement: {error} (in-toto Statement.validate)") from error
    exact_keys(statement, ["_type", "subject", "predicateType", "predicate"], "statement")
    if statement["_type"] != STATEMENT_TYPE:
        raise Failed(f"statement._type: expected {STATEMENT_TYPE}, got {statement['_type']!r}")
    if statement["predicateType"] != PREDICATE_TYPE:
        raise Failed(f"statement.predicateType: expected {PREDICATE_TYPE}, got {statement['predicateType']!r}")
    names = set()
    for i, subject in enumerate(statement["subject"]):
        where = f"statement.subject[{i}]"
        exact_keys(subject, ["name", "digest"], where)
        if not subject["name"]:
            raise Failed(f"{where}.name: empty")
        if subject["name"] in names:
            raise Failed(f"{where}.name: {subject['name']!r} appears twice")
        names.add(subject["name"])
        check_sha256_only(subject["digest"], f"{where}.digest")
    check_predicate(libs, statement["predicate"], "statement.predicate")
    return statement


def check_envelope(libs, envelope_path, signer_path, other_path):
    signer_key, signer_blob = read_ssh_ed25519(signer_path)
    other_key, _ = read_ssh_ed25519(other_path)
    if signer_key == other_key:
        raise Usage(f"{signer_path} and {other_path} hold the same key: the rejection would prove nothing")

    envelope = strict_json(read_bytes(envelope_path), envelope_path)
    exact_keys(envelope, ["payloadType", "payload", "signatures"], "envelope")
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise Failed(f"envelope.payloadType: expected {PAYLOAD_TYPE}, got {envelope['payloadType']!r}")
    payload = std_base64(envelope["payload"], "envelope.payload")
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise Failed("envelope.signatures: expected exactly one signature")
    exact_keys(signatures[0], ["keyid", "sig"], "envelope.signatures[0]")
    keyid = signatures[0]["keyid"]
    raw_sig = std_base64(signatures[0]["sig"], "envelope.signatures[0].sig")
    if len(raw_sig) != 64:
        raise Failed(f"envelope.signatures[0].sig: {len(raw_sig)} bytes, a raw ed25519 signature has 64")
    expected_keyid = fingerprint(signer_blob)
    by_ssh_keygen = ssh_keygen_fingerprint(signer_path)
    if by_ssh_keygen is not None and by_ssh_keygen != expected_keyid:
        raise Usage(f"ssh-keygen prints {by_ssh_keygen} for {signer_path}, this checker computed {expected_keyid}")
    if keyid != expected_keyid:
        raise Failed(
            f"envelope.signatures[0].keyid: {keyid!r} is not the SHA256 fingerprint of {signer_path} ({expected_keyid})"
        )

    # securesystemslib's DSSE: it computes the PAE and checks the ed25519
    # signature itself. from_dict rewrites the signature dicts: a copy.
    try:
        dsse = libs["Envelope"].from_dict(copy.deepcopy(envelope))
    except (KeyError, ValueError, TypeError) as error:
        raise Failed(f"envelope: securesystemslib cannot read it: {error!r}") from error

    def sslib_key(raw):
        return libs["SSlibKey"](keyid, "ed25519", "ed25519", {"public": raw.hex()})

    try:
        accepted = dsse.verify([sslib_key(signer_key)], threshold=1)
    except libs["VerificationError"] as error:
        raise Failed(
            f"envelope: securesystemslib's DSSE verify rejects the signature with {signer_path}'s key: {error}"
        ) from error
    if keyid not in accepted:
        raise Failed(f"envelope: securesystemslib accepted no signature under keyid {keyid}")
    try:
        dsse.verify([sslib_key(other_key)], threshold=1)
    except libs["VerificationError"]:
        pass
    else:
        raise Failed(f"envelope: securesystemslib's DSSE verify accepts the signature with {other_path}'s key too")

    statement = check_statement(libs, payload)
    return keyid, statement


def main(argv):
    if len(argv) == 3 and argv[1] == "--predicate":
        libs = load_libraries()
        app, env = check_predicate(libs, strict_json(read_bytes(argv[2]), argv[2]))
        print(f"{argv[2]}: SLSA VSA 1.0 predicate of {app}/{env}")
        print("predicate valid")
        return 0
    if len(argv) != 4 or argv[1].startswith("-"):
        raise Usage(
            "usage: attest_check.py ENVELOPE.json SIGNER.pub OTHER.pub\n"
            "       attest_check.py --predicate PREDICATE.json"
        )
    libs = load_libraries()
    envelope_path, signer_path, other_path = argv[1:]
    keyid, statement = check_envelope(libs, envelope_path, signer_path, other_path)
    predicate = statement["predicate"]
    print(f"{envelope_path}: DSSE envelope signed by {keyid}")
    for subject in statement["subject"]:
        print(f"  subject {subject['name']} sha256:{subject['digest']['sha256']}")
    print(f"  {predicate['resourceUri']} {predicate['verificationResult']} {', '.join(predicate['verifiedLevels'])}")
    signer, other = os.path.basename(signer_path), os.path.basename(other_path)
    print(f"accepted by {signer}'s key, rejected by {other}'s key; statement and predicate valid")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Failed as failure:
        print(f"attest_check: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    except Usage as usage:
        print(f"attest_check: error: {usage}", file=sys.stderr)
        sys.exit(2)
    except Exception:  # a bug here, never a verdict on the envelope
        traceback.print_exc()
        print("attest_check: internal error (a bug in the checker, not a verdict)", file=sys.stderr)
        sys.exit(3)
