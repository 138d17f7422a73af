//! Concurrency, crashes mid-write and input limits.

use std::process::Stdio;

use crate::common::{digest, Forged, TestRepo};

fn image(fill: char) -> String {
    format!("ghcr.io/o/api@{}", digest(fill))
}

#[test]
fn an_append_while_another_holds_the_lock_is_refused_with_a_clear_message() {
    let repo = TestRepo::with_signed_policy();
    let lock = repo.hold_write_lock();
    let out = repo
        .fails(1, &["promote", "--app", "api", "--env", "dev", "--image", &image('a'), "--key", &repo.key_str("ci")]);
    assert!(out.contains("another gitops-ledger command is writing to this repo"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert_eq!(repo.status(), "");
    lock.unlock().unwrap();
    repo.ok(&["promote", "--app", "api", "--env", "dev", "--image", &image('a'), "--key", &repo.key_str("ci")]);
}

#[test]
fn two_promotes_at_once_never_share_a_sequence_number() {
    let repo = TestRepo::with_signed_policy();
    let spawn = |fill: char| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-ledger"));
        cmd.args(["promote", "--app", "api", "--env", "dev", "--image", &image(fill), "--key", &repo.key_str("ci")])
            .current_dir(&repo.root)
            .env("GITOPS_LEDGER_NOW", &repo.now)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    };
    for _ in 0..5 {
        let (a, b) = (spawn('a'), spawn('b'));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for out in [&a, &b] {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success()
                    || err.contains("another gitops-ledger command is writing")
                    || err.contains("took this sequence number first"),
                "{err}"
            );
        }
    }
    // Whatever interleaving happened, the chain is whole and verifies.
    repo.project();
    let out = repo.ok(&["verify"]);
    assert!(out.contains("every rule holds"), "{out}");
}

#[test]
fn two_branches_appending_the_same_app_conflict_and_keeping_both_fails_verify() {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.git(&["checkout", "-q", "-b", "left"]);
    repo.promote("dev", 'b', "ci", "2026-11-27T09:00:00Z");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["checkout", "-q", "-b", "right"]);
    repo.promote("dev", 'c', "ci", "2026-11-27T09:30:00Z");
    let merge = std::process::Command::new("git")
        .args(["merge", "-q", "left", "-m", "merge"])
        .current_dir(&repo.root)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(!merge.status.success(), "git refuses the merge");
    let conflicts = repo.git(&["diff", "--name-only", "--diff-filter=U"]);
    assert!(conflicts.contains("promotions/apps/api/00000002.json"), "{conflicts}");
    // A naive resolution keeps both: ours at 2, theirs renamed to 3.
    let theirs = repo.git(&["show", "left:promotions/apps/api/00000002.json"]);
    repo.git(&["checkout", "--ours", "promotions/apps/api/00000002.json", "versions.json"]);
    repo.write("promotions/apps/api/00000003.json", &theirs);
    let out = repo.fails(1, &["verify"]);
    assert!(out.contains("promotions/apps/api/00000003.json (api@2): holds api@2 but that record belongs in promotions/apps/api/00000002.json"), "{out}");
}

#[test]
fn a_process_killed_while_writing_leaves_the_old_or_the_new_state() {
    for point in ["before-rename", "after-record", "before-commit"] {
        let repo = TestRepo::with_signed_policy();
        repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
        let killed = repo
            .cmd()
            .env("GITOPS_LEDGER_CRASH_AT", point)
            .args([
                "promote",
                "--app",
                "api",
                "--env",
                "dev",
                "--image",
                &image('b'),
                "--key",
                &repo.key_str("ci"),
                "--commit",
            ])
            .output()
            .unwrap();
        assert_eq!(killed.status.code(), None, "{point}: the process must die by the injected abort");
        // The ledger file is either absent (old state) or whole (new state).
        let record = repo.root.join("promotions/apps/api/00000002.json");
        if record.exists() {
            let parsed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
            assert_eq!(parsed["seq"], 2, "{point}");
        }
        // Stray temp files are never read as records, and the next command works.
        repo.project();
        let out = repo.ok(&["verify"]);
        assert!(out.contains("every rule holds"), "{point}: {out}");
        repo.ok(&["promote", "--app", "api", "--env", "dev", "--image", &image('c'), "--key", &repo.key_str("ci")]);
    }
}

#[test]
fn every_input_limit_is_refused_with_its_name() {
    let repo = TestRepo::with_signed_policy();
    repo.forge(Forged::new(1, "dev", 'a', "2026-11-27T08:00:00Z", &["ci"]));
    let path = "promotions/apps/api/00000001.json";
    let base = repo.read_json(path);
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            {
                let mut r = base.clone();
                r["reason"] = "x".repeat(4097).into();
                r
            },
            "reason is longer than 4096 characters",
        ),
        (
            {
                let mut r = base.clone();
                r["images"] = (0..65)
                    .map(|i| serde_json::json!({"name": format!("ghcr.io/o/i{i}"), "digest": digest('a')}))
                    .collect();
                r
            },
            "65 images is more than the limit of 64",
        ),
        (
            {
                let mut r = base.clone();
                r["signatures"] =
                    (0..33).map(|i| serde_json::json!({"signer": format!("s{i}"), "sig": "AAAA"})).collect();
                r
            },
            "33 signatures is more than the limit of 32",
        ),
        (
            {
                let mut r = base.clone();
                r["reason"] = "y".repeat(300 * 1024).into();
                r
            },
            "larger than the 262144-byte limit",
        ),
        (
            {
                let mut r = base.clone();
                r["app"] = "../../etc".into();
                r
            },
            "is not a valid name",
        ),
        (
            {
                let mut r = base.clone();
                r["seq"] = 100_000_000u64.into();
                r
            },
            "out of range",
        ),
    ];
    for (record, needle) in cases {
        repo.write(path, &serde_json::to_string(&record).unwrap());
        let out = repo.fails(1, &["verify"]);
        assert!(out.contains(needle), "{needle:?} not in:\n{out}");
        assert!(out.contains("(rule: schema)"), "{out}");
    }
    let policy = repo.read("promotions/policy/00000001.json");
    repo.write("promotions/policy/00000001.json", &format!("{policy}{}", " ".repeat(1024 * 1024)));
    let out = repo.fails(1, &["verify"]);
    assert!(out.contains("promotions/policy/00000001.json: is larger than the 1048576-byte limit"), "{out}");
}

#[test]
fn a_committed_record_over_the_size_limit_is_refused_by_verify_rev() {
    let repo = TestRepo::landed_at_base();
    repo.edit_json("promotions/apps/api/00000002.json", |r| r["reason"] = "y".repeat(300 * 1024).into());
    repo.git(&["commit", "-qam", "oversized"]);
    let out = repo.fails(1, &["verify", "--rev", "HEAD"]);
    assert!(out.contains("promotions/apps/api/00000002.json"), "{out}");
    assert!(out.contains("larger than the 262144-byte limit"), "{out}");
    assert!(out.contains("(rule: schema)"), "{out}");
}

/// A packed blob whose header claims 2 GiB, with two bytes of data, is
/// refused before anything that size is allocated: gix is opened with an
/// allocation limit (`gitoxide.objects.allocLimit`), which stands in for a
/// size check before every read. Without it the read zero-fills 2 GiB first.
#[test]
fn a_packed_blob_claiming_gigabytes_is_refused_without_allocating_them() {
    let repo = TestRepo::landed_at_base();
    let id = "ab".repeat(20);
    let (pack, index) = pack_of_one_blob(&id, 2 << 30, b"{}");
    let packs = repo.root.join(".git/objects/pack");
    std::fs::write(packs.join("pack-claim.pack"), pack).unwrap();
    std::fs::write(packs.join("pack-claim.idx"), index).unwrap();
    repo.git(&["update-index", "--cacheinfo", &format!("100644,{id},promotions/apps/api/00000002.json")]);
    repo.git(&["commit", "-qm", "a blob claiming 2 GiB"]);

    // Python reports the peak memory of the process it ran.
    let measure = "import resource, subprocess, sys\n\
                   run = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n\
                   print(run.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
                   print(run.stdout + run.stderr)";
    let binary = assert_cmd::cargo::cargo_bin("gitops-ledger");
    let out = repo.hermetic("python3").arg("-c").arg(measure).arg(binary).args(["verify", "--rev", "HEAD"]).output();
    let out = String::from_utf8(out.unwrap().stdout).unwrap();
    let (first, message) = out.split_once('\n').unwrap();
    let (code, peak_kb) = first.split_once(' ').unwrap();
    assert_eq!(code, "2", "{out}");
    assert!(message.contains("reading promotions/apps/api/00000002.json"), "{out}");
    assert!(peak_kb.parse::<u64>().unwrap() < 200_000, "peak {peak_kb} KB:\n{out}");
}

/// A version 2 pack holding one blob entry that claims `claimed` bytes
/// and holds `data`, named `id`, and its index.
fn pack_of_one_blob(id: &str, claimed: u64, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let sha1 = |bytes: &[u8]| {
        let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
        hasher.update(bytes);
        hasher.try_finalize().unwrap()
    };
    let mut pack = b"PACK".to_vec();
    pack.extend(2u32.to_be_bytes());
    pack.extend(1u32.to_be_bytes());
    let offset = pack.len() as u32;
    // Entry header: type 3 (blob) and the size, 4 bits then 7 per byte.
    let mut entry = vec![(3 << 4) | (claimed & 0x0f) as u8];
    let mut rest = claimed >> 4;
    while rest > 0 {
        *entry.last_mut().unwrap() |= 0x80;
        entry.push((rest & 0x7f) as u8);
        rest >>= 7;
    }
    entry.extend(zlib_stored(data));
    pack.extend(&entry);
    let pack_sum = sha1(&pack);
    pack.extend(pack_sum.as_bytes());

    let name = gix::ObjectId::from_hex(id.as_bytes()).unwrap();
    let mut index = vec![0xff, b't', b'O', b'c'];
    index.extend(2u32.to_be_bytes());
    for byte in 0..=255u8 {
        index.extend(u32::from(byte >= name.as_bytes()[0]).to_be_bytes());
    }
    index.extend(name.as_bytes());
    index.extend(crc32(&entry).to_be_bytes());
    index.extend(offset.to_be_bytes());
    index.extend(pack_sum.as_bytes());
    let index_sum = sha1(&index);
    index.extend(index_sum.as_bytes());
    (pack, index)
}

fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| {
        (0..8).fold(crc ^ u32::from(byte), |c, _| if c & 1 == 1 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 })
    })
}

/// `data` as a zlib stream of one stored (uncompressed) deflate block.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).unwrap();
    let mut out = vec![0x78, 0x01, 0x01];
    out.extend(len.to_le_bytes());
    out.extend((!len).to_le_bytes());
    out.extend(data);
    let (a, b) = data.iter().fold((1u32, 0u32), |(a, b), &x| {
        let a = (a + u32::from(x)) % 65521;
        (a, (b + a) % 65521)
    });
    out.extend(((b << 16) | a).to_be_bytes());
    out
}
