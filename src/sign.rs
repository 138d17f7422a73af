//! SSHSIG signatures (OpenSSH PROTOCOL.sshsig) over canonical messages, and the
//! ed25519 OpenSSH key files that make them.
//!
//! A signature is stored as base64 of the binary SSHSIG blob, namespace
//! [`NAMESPACE`], hash sha512, key type `ssh-ed25519`: exactly what
//! `ssh-keygen -Y sign -n gitops-ledger` writes inside its armor, so
//! `ssh-keygen -Y verify` checks our signatures and we check its.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ssh_encoding::base64::{Base64, Encoding};
use ssh_encoding::{Decode, Encode};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use zeroize::Zeroizing;

/// The SSHSIG namespace: keeps a ledger signature from ever being valid as a
/// git commit or file signature, and the reverse.
pub const NAMESPACE: &str = "gitops-ledger";

/// Variable holding the passphrase of an encrypted key file, for CI jobs.
pub const PASSPHRASE_ENV: &str = "GITOPS_LEDGER_PASSPHRASE";

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not an OpenSSH private key ({source}); make one with `gitops-ledger keygen FILE` or `ssh-keygen -t ed25519`")]
    NotAKey { path: PathBuf, source: ssh_key::Error },
    #[error("{path} is a {algorithm} key; gitops-ledger signs with ssh-ed25519 keys only (`ssh-keygen -t ed25519`)")]
    NotEd25519 { path: PathBuf, algorithm: String },
    #[error("{path} is encrypted; set {PASSPHRASE_ENV} to its passphrase")]
    NeedsPassphrase { path: PathBuf },
    #[error("cannot decrypt {path} with the passphrase in {PASSPHRASE_ENV}: {source}")]
    Decrypt { path: PathBuf, source: ssh_key::Error },
    #[error("signing failed: {0}")]
    Sign(ssh_key::Error),
    #[error("{path} already exists; keygen never overwrites a key (pick another name or remove it first)")]
    KeyExists { path: PathBuf },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot generate a key: {0}")]
    Generate(ssh_key::Error),
    #[error("`{0}` is not an ssh-ed25519 public key line (\"ssh-ed25519 AAAA... comment\")")]
    PublicKey(String),
}

/// Why one stored signature does not count.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("sig is not base64")]
    NotBase64,
    #[error("sig is not a binary SSHSIG blob")]
    NotSshsig,
    #[error("signature namespace is {0:?}, expected {NAMESPACE:?}")]
    Namespace(String),
    #[error("signature hash is {0}, expected sha512")]
    Hash(String),
    #[error("signature is not ssh-ed25519")]
    Algorithm,
    #[error("the signer has no key in the policy version this was signed under")]
    UnknownSigner,
    #[error("signature was made by a different key than the policy gives this signer")]
    WrongKey,
    #[error("signature does not verify: the record changed after it was signed, or the signature was altered")]
    Invalid,
}

/// A public key as the policy writes it ("ssh-ed25519 AAAA... comment"),
/// kept with its exact text so the policy re-serializes to the signed bytes.
#[derive(Clone)]
pub struct PolicyKey {
    text: String,
    key: ed25519_dalek::VerifyingKey,
    key_data: ssh_key::public::KeyData,
}

impl PolicyKey {
    pub fn parse(text: &str) -> Result<Self, SignError> {
        let bad = || SignError::PublicKey(text.chars().take(80).collect());
        // The text is signed as written: one line, nothing the parser would trim.
        if text.trim() != text || text.contains(['\n', '\r']) {
            return Err(bad());
        }
        let public = PublicKey::from_openssh(text).map_err(|_| bad())?;
        let ssh_key::public::KeyData::Ed25519(raw) = public.key_data() else {
            return Err(bad());
        };
        let key = ed25519_dalek::VerifyingKey::from_bytes(&raw.0).map_err(|_| bad())?;
        Ok(PolicyKey { text: text.to_string(), key, key_data: public.key_data().clone() })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `other` is the same key, whatever the comments say.
    pub fn same_key(&self, other: &PublicKey) -> bool {
        &self.key_data == other.key_data()
    }

    /// Checks one base64 SSHSIG blob over `message`.
    pub fn verify(&self, message: &[u8], sig: &str) -> Result<(), SignatureProblem> {
        let prepared = self.prepare(message, sig)?;
        self.key.verify_strict(&prepared.signed_data, &prepared.signature).map_err(|_| SignatureProblem::Invalid)
    }

    /// Decodes and checks everything but the ed25519 equation, returning what a
    /// (batch) ed25519 verification needs.
    pub fn prepare(&self, message: &[u8], sig: &str) -> Result<PreparedSignature, SignatureProblem> {
        let blob = Base64::decode_vec(sig).map_err(|_| SignatureProblem::NotBase64)?;
        let sshsig = SshSig::decode(&mut blob.as_slice()).map_err(|_| SignatureProblem::NotSshsig)?;
        if sshsig.namespace() != NAMESPACE {
            return Err(SignatureProblem::Namespace(sshsig.namespace().to_string()));
        }
        if sshsig.hash_alg() != HashAlg::Sha512 {
            return Err(SignatureProblem::Hash(sshsig.hash_alg().to_string()));
        }
        if sshsig.algorithm() != Algorithm::Ed25519 {
            return Err(SignatureProblem::Algorithm);
        }
        if sshsig.public_key() != &self.key_data {
            return Err(SignatureProblem::WrongKey);
        }
        let signature =
            ed25519_dalek::Signature::from_slice(sshsig.signature_bytes()).map_err(|_| SignatureProblem::NotSshsig)?;
        // The reserved field is part of the signed data; SSHSIG v1 leaves it empty.
        if !sshsig.reserved().is_empty() {
            return Err(SignatureProblem::NotSshsig);
        }
        let signed_data =
            SshSig::signed_data(NAMESPACE, HashAlg::Sha512, message).map_err(|_| SignatureProblem::NotSshsig)?;
        Ok(PreparedSignature { key: self.key, signature, signed_data })
    }
}

impl fmt::Debug for PolicyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyKey({})", self.text)
    }
}

impl PartialEq for PolicyKey {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for PolicyKey {}

/// An SSHSIG reduced to one ed25519 check.
pub struct PreparedSignature {
    pub key: ed25519_dalek::VerifyingKey,
    pub signature: ed25519_dalek::Signature,
    pub signed_data: Vec<u8>,
}

/// A loaded private signing key. The secret never leaves this type: `Debug`
/// shows only the public fingerprint, and `ssh-key` zeroizes the key bytes on drop.
pub struct SigningKey {
    key: PrivateKey,
    path: PathBuf,
}

impl SigningKey {
    /// Loads an OpenSSH ed25519 private key; an encrypted one is opened with
    /// `passphrase` (usually from [`PASSPHRASE_ENV`]).
    pub fn load(path: &Path, passphrase: Option<Zeroizing<String>>) -> Result<Self, SignError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| SignError::Read { path: path.into(), source })?,
        );
        let mut key = PrivateKey::from_openssh(text.as_bytes())
            .map_err(|source| SignError::NotAKey { path: path.into(), source })?;
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(SignError::NotEd25519 { path: path.into(), algorithm: key.algorithm().to_string() });
        }
        if key.is_encrypted() {
            let passphrase = passphrase.ok_or_else(|| SignError::NeedsPassphrase { path: path.into() })?;
            key = key
                .decrypt(passphrase.as_bytes())
                .map_err(|source| SignError::Decrypt { path: path.into(), source })?;
        }
        Ok(SigningKey { key, path: path.into() })
    }

    /// The passphrase from the environment, if one is set.
    pub fn passphrase_from_env() -> Option<Zeroizing<String>> {
        std::env::var(PASSPHRASE_ENV).ok().map(Zeroizing::new)
    }

    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Signs `message`, returning base64 of the binary SSHSIG blob.
    pub fn sign(&self, message: &[u8]) -> Result<String, SignError> {
        let sshsig = SshSig::sign(&self.key, NAMESPACE, HashAlg::Sha512, message).map_err(SignError::Sign)?;
        let mut blob = Vec::new();
        sshsig.encode(&mut blob).map_err(|e| SignError::Sign(e.into()))?;
        Ok(Base64::encode_string(&blob))
    }

    /// Writes a new ed25519 key pair: `path` (private, mode 0600, never
    /// overwritten) and `path.pub`. Returns the public key line.
    pub fn generate(path: &Path, comment: &str) -> Result<String, SignError> {
        let pub_path = public_path(path);
        for p in [path, pub_path.as_path()] {
            if p.exists() {
                return Err(SignError::KeyExists { path: p.into() });
            }
        }
        let mut key = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).map_err(SignError::Generate)?;
        key.set_comment(comment);
        let private_text = key.to_openssh(LineEnding::LF).map_err(SignError::Generate)?;
        let public_text = key.public_key().to_openssh().map_err(SignError::Generate)?;
        write_new_file(path, private_text.as_bytes(), 0o600)?;
        if let Err(err) = write_new_file(&pub_path, format!("{public_text}\n").as_bytes(), 0o644) {
            // Leave nothing half-made: a private key without its .pub is confusing.
            let _ = std::fs::remove_file(path);
            return Err(err);
        }
        Ok(public_text)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, {})", self.path.display(), self.key.public_key().fingerprint(HashAlg::Sha256))
    }
}

pub fn public_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SignError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let wrap = |source| SignError::Write { path: path.into(), source };
    let mut file = options.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => SignError::KeyExists { path: path.into() },
        _ => wrap(source),
    })?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(wrap)
}

impl serde::Serialize for PolicyKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for PolicyKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        PolicyKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let public = SigningKey::generate(&path, "test").unwrap();
        let key = SigningKey::load(&path, None).unwrap();
        let policy_key = PolicyKey::parse(&public).unwrap();
        let sig = key.sign(b"message").unwrap();
        assert_eq!(policy_key.verify(b"message", &sig), Ok(()));
        assert_eq!(policy_key.verify(b"messagE", &sig), Err(SignatureProblem::Invalid));
        let other = SigningKey::generate(&dir.path().join("o"), "other").unwrap();
        assert_eq!(PolicyKey::parse(&other).unwrap().verify(b"message", &sig), Err(SignatureProblem::WrongKey));
        assert_eq!(policy_key.verify(b"message", "not base64!"), Err(SignatureProblem::NotBase64));
        assert!(!format!("{key:?}").contains("PRIVATE"), "Debug must not print key material");
    }

    #[cfg(unix)]
    #[test]
    fn keygen_writes_a_private_file_with_mode_0600_and_never_overwrites() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        SigningKey::generate(&path, "test").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(matches!(SigningKey::generate(&path, "again"), Err(SignError::KeyExists { .. })));
    }
}
