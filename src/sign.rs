//! SSHSIG signatures (OpenSSH PROTOCOL.sshsig) over canonical messages, and the
//! ed25519 keys that make them: an OpenSSH private key file, or an ssh-agent
//! holding the private half of a public key file.
//!
//! A signature is stored as base64 of the binary SSHSIG blob, namespace
//! [`NAMESPACE`], hash sha512, key type `ssh-ed25519`: exactly what
//! `ssh-keygen -Y sign -n gitops-ledger` writes inside its armor, so
//! `ssh-keygen -Y verify` checks our signatures and we check its.

use std::cell::RefCell;
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

/// Variable naming the ssh-agent's socket, as OpenSSH and git read it.
pub const AGENT_ENV: &str = "SSH_AUTH_SOCK";

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is neither an OpenSSH private key ({source}) nor a public key line; make a key with `gitops-ledger keygen FILE` or `ssh-keygen -t ed25519`")]
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
    #[error("{path} is a public key, so an ssh-agent must sign with its private half, but {AGENT_ENV} is not set; start an agent and add the key: `eval $(ssh-agent)`, then `ssh-add {}`", private_half(.path))]
    NoAgent { path: PathBuf },
    #[error("cannot reach the ssh-agent at {AGENT_ENV}={socket} to sign with {path}: {source}; start an agent and add the key: `eval $(ssh-agent)`, then `ssh-add {}`", private_half(.path))]
    AgentUnreachable { path: PathBuf, socket: PathBuf, source: std::io::Error },
    #[error("the ssh-agent at {socket} does not hold the private half of {path} ({fingerprint}); add it: `ssh-add {}`", private_half(.path))]
    AgentLacksKey { path: PathBuf, socket: PathBuf, fingerprint: String },
    #[error("the ssh-agent at {socket} refused to sign with {path} ({fingerprint}): it no longer holds the key, or its confirmation was declined")]
    AgentRefused { path: PathBuf, socket: PathBuf, fingerprint: String },
    #[error("the ssh-agent at {socket} returned a signature that does not verify with {path}; nothing was signed")]
    AgentBadSignature { path: PathBuf, socket: PathBuf },
    // Boxed: the client's error holds ssh-key's, which would double the size of every SignError.
    #[error("talking to the ssh-agent at {socket} failed: {source}")]
    Agent { socket: PathBuf, source: Box<ssh_agent_client_rs::Error> },
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
        let signature = self.decode(sig)?;
        Ok(PreparedSignature { key: self.key, signature, signed_data: signed_data(message)? })
    }

    /// Decodes and checks everything but the ed25519 equation: the ed25519
    /// signature by [`PolicyKey::verifying_key`] over [`signed_data`] that the
    /// SSHSIG blob carries.
    pub fn decode(&self, sig: &str) -> Result<ed25519_dalek::Signature, SignatureProblem> {
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
        Ok(signature)
    }

    pub fn verifying_key(&self) -> &ed25519_dalek::VerifyingKey {
        &self.key
    }
}

/// What an ed25519 signature in an SSHSIG over `message` signs: a SHA-512 of
/// `message` in a frame naming [`NAMESPACE`], the same for every signer, so
/// a caller checking several signatures over one message can make it once.
pub fn signed_data(message: &[u8]) -> Result<Vec<u8>, SignatureProblem> {
    SshSig::signed_data(NAMESPACE, HashAlg::Sha512, message).map_err(|_| SignatureProblem::NotSshsig)
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

/// A loaded signing key: an OpenSSH private key file, or a public key file
/// whose private half an ssh-agent holds. The secret never leaves this type
/// (nor, for an agent key, the agent): `Debug` shows only the path and the
/// public fingerprint, and `ssh-key` zeroizes the key bytes on drop.
pub struct SigningKey {
    backing: Backing,
    path: PathBuf,
}

/// Where the private half is.
enum Backing {
    File(PrivateKey),
    Agent(AgentKey),
}

/// A key the ssh-agent at `socket` holds. A connection is opened for each
/// signature rather than kept: the agent protocol has no session state, and an
/// open socket would make the key neither `Send` nor `Sync`.
struct AgentKey {
    public: PublicKey,
    verifying: ed25519_dalek::VerifyingKey,
    socket: PathBuf,
}

impl SigningKey {
    /// Loads `path`: an OpenSSH ed25519 private key, an encrypted one opened
    /// with `passphrase` (usually from [`PASSPHRASE_ENV`]); or an ed25519
    /// public key line (a `.pub` file), whose private half the ssh-agent at
    /// [`AGENT_ENV`] must hold, as git does with `gpg.format ssh`.
    pub fn load(path: &Path, passphrase: Option<Zeroizing<String>>) -> Result<Self, SignError> {
        Self::load_with_agent(path, passphrase, std::env::var_os(AGENT_ENV).as_deref().map(Path::new))
    }

    /// [`SigningKey::load`] with the agent's socket given rather than read
    /// from [`AGENT_ENV`] (None: no agent).
    pub fn load_with_agent(
        path: &Path,
        passphrase: Option<Zeroizing<String>>,
        agent_socket: Option<&Path>,
    ) -> Result<Self, SignError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| SignError::Read { path: path.into(), source })?,
        );
        // What the file holds decides, not its name: a public key line is never
        // a private key, so nothing else can be meant.
        if let Ok(public) = PublicKey::from_openssh(text.trim()) {
            return Self::from_agent(path, public, agent_socket);
        }
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
        Ok(SigningKey { backing: Backing::File(key), path: path.into() })
    }

    /// The agent key for `public` (read from `path`), once the agent at
    /// `socket` is reachable and holds it: a missing agent or key is reported
    /// before the command does any work.
    fn from_agent(path: &Path, public: PublicKey, socket: Option<&Path>) -> Result<Self, SignError> {
        let ssh_key::public::KeyData::Ed25519(raw) = public.key_data() else {
            return Err(SignError::NotEd25519 { path: path.into(), algorithm: public.algorithm().to_string() });
        };
        let verifying = ed25519_dalek::VerifyingKey::from_bytes(&raw.0)
            .map_err(|_| SignError::PublicKey(path.display().to_string()))?;
        // Set but empty counts as unset, as OpenSSH takes it.
        let socket = match socket {
            Some(socket) if !socket.as_os_str().is_empty() => socket.to_path_buf(),
            _ => return Err(SignError::NoAgent { path: path.into() }),
        };
        let agent = AgentKey { public, verifying, socket };
        let held = agent.connect(path)?.list_all_identities().map_err(|source| agent.error(path, source))?;
        if !held.iter().any(|identity| <&ssh_key::public::KeyData>::from(identity) == agent.public.key_data()) {
            return Err(SignError::AgentLacksKey {
                path: path.into(),
                socket: agent.socket,
                fingerprint: agent.public.fingerprint(HashAlg::Sha256).to_string(),
            });
        }
        Ok(SigningKey { backing: Backing::Agent(agent), path: path.into() })
    }

    /// The passphrase from the environment, if one is set.
    pub fn passphrase_from_env() -> Option<Zeroizing<String>> {
        std::env::var(PASSPHRASE_ENV).ok().map(Zeroizing::new)
    }

    pub fn public_key(&self) -> &PublicKey {
        match &self.backing {
            Backing::File(key) => key.public_key(),
            Backing::Agent(agent) => &agent.public,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The socket of the ssh-agent that signs, or None for a private key file.
    pub fn agent_socket(&self) -> Option<&Path> {
        match &self.backing {
            Backing::File(_) => None,
            Backing::Agent(agent) => Some(&agent.socket),
        }
    }

    /// Signs `message`, returning base64 of the binary SSHSIG blob.
    pub fn sign(&self, message: &[u8]) -> Result<String, SignError> {
        let request = Request::new(self);
        let sshsig = SshSig::sign(&request, NAMESPACE, HashAlg::Sha512, message).map_err(|err| request.failed(err))?;
        let mut blob = Vec::new();
        sshsig.encode(&mut blob).map_err(|e| SignError::Sign(e.into()))?;
        Ok(Base64::encode_string(&blob))
    }

    /// Signs `data` itself with plain ed25519: no SSHSIG wrapping, no
    /// namespace. This is the signature a DSSE envelope carries (over its
    /// PAE bytes, which bind the payload type as the namespace does here), so
    /// the caller must sign only bytes that cannot be read as anything else.
    pub fn sign_raw(&self, data: &[u8]) -> Result<ed25519_dalek::Signature, SignError> {
        let request = Request::new(self);
        let signature = signature::Signer::try_sign(&request, data).map_err(|err| request.failed(err.into()))?;
        ed25519_dalek::Signature::try_from(&signature).map_err(SignError::Sign)
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
        write!(f, "SigningKey({}, {})", self.path.display(), self.public_key().fingerprint(HashAlg::Sha256))
    }
}

impl AgentKey {
    fn connect(&self, path: &Path) -> Result<ssh_agent_client_rs::Client, SignError> {
        ssh_agent_client_rs::Client::connect(&self.socket).map_err(|source| self.error(path, source))
    }

    /// What went wrong talking to the agent, in the words a user acts on.
    fn error(&self, path: &Path, source: ssh_agent_client_rs::Error) -> SignError {
        match source {
            ssh_agent_client_rs::Error::AgentCommunicationError(source) => {
                SignError::AgentUnreachable { path: path.into(), socket: self.socket.clone(), source }
            }
            ssh_agent_client_rs::Error::RemoteFailure => SignError::AgentRefused {
                path: path.into(),
                socket: self.socket.clone(),
                fingerprint: self.public.fingerprint(HashAlg::Sha256).to_string(),
            },
            source => SignError::Agent { socket: self.socket.clone(), source: Box::new(source) },
        }
    }

    /// One agent sign request over `data`. For ssh-ed25519 the agent returns
    /// plain ed25519 over the bytes as given (no hashing, no flags to choose).
    fn sign(&self, path: &Path, data: &[u8]) -> Result<ssh_key::Signature, SignError> {
        let signature = self.connect(path)?.sign(&self.public, data).map_err(|source| self.error(path, source))?;
        // The agent is another program: check its answer here, so a record
        // never lands with a signature that verify would then reject.
        let verifies = signature.algorithm() == Algorithm::Ed25519
            && ed25519_dalek::Signature::from_slice(signature.as_bytes())
                .is_ok_and(|ed| self.verifying.verify_strict(data, &ed).is_ok());
        if !verifies {
            return Err(SignError::AgentBadSignature { path: path.into(), socket: self.socket.clone() });
        }
        Ok(signature)
    }
}

/// One signing operation as ssh-key sees a signer ([`ssh_key::SigningKey`]),
/// so SSHSIG and raw signatures take the same path whichever backing holds the
/// key. `signature::Error` would reduce an agent's error to "cryptographic
/// error", so the request keeps the real one aside for [`Request::failed`].
struct Request<'k> {
    key: &'k SigningKey,
    failure: RefCell<Option<SignError>>,
}

impl<'k> Request<'k> {
    fn new(key: &'k SigningKey) -> Self {
        Request { key, failure: RefCell::new(None) }
    }

    /// The error to report for `err`: the agent's own, if it was the agent.
    fn failed(&self, err: ssh_key::Error) -> SignError {
        self.failure.take().unwrap_or(SignError::Sign(err))
    }
}

impl signature::Signer<ssh_key::Signature> for Request<'_> {
    fn try_sign(&self, data: &[u8]) -> Result<ssh_key::Signature, signature::Error> {
        match &self.key.backing {
            Backing::File(key) => signature::Signer::try_sign(key, data),
            Backing::Agent(agent) => agent.sign(&self.key.path, data).map_err(|err| {
                self.failure.replace(Some(err));
                signature::Error::new()
            }),
        }
    }
}

impl From<&Request<'_>> for ssh_key::public::KeyData {
    fn from(request: &Request<'_>) -> Self {
        request.key.public_key().key_data().clone()
    }
}

/// What to `ssh-add` for the public key file `path`: the file beside it
/// without `.pub`, as ssh-keygen names the pair, or a placeholder.
fn private_half(path: &Path) -> String {
    match path.to_str().and_then(|p| p.strip_suffix(".pub")) {
        Some(private) => private.to_string(),
        None => "PRIVATE_KEY_FILE".to_string(),
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

    #[test]
    fn sign_goes_through_the_same_sshsig_code_as_ssh_key_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        SigningKey::generate(&path, "test").unwrap();
        let key = SigningKey::load(&path, None).unwrap();
        let private = PrivateKey::read_openssh_file(&path).unwrap();
        // ed25519 is deterministic: the same key and message give the same blob.
        let direct = SshSig::sign(&private, NAMESPACE, HashAlg::Sha512, b"message").unwrap();
        let mut blob = Vec::new();
        direct.encode(&mut blob).unwrap();
        assert_eq!(key.sign(b"message").unwrap(), Base64::encode_string(&blob));
    }

    #[test]
    fn a_raw_signature_is_plain_ed25519_over_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let public = SigningKey::generate(&path, "test").unwrap();
        let key = SigningKey::load(&path, None).unwrap();
        let data = b"DSSEv1 28 application/vnd.in-toto+json 2 {}";
        let signature = key.sign_raw(data).unwrap();
        let ssh_key::public::KeyData::Ed25519(raw) = PublicKey::from_openssh(&public).unwrap().key_data().clone()
        else {
            panic!("generate makes ed25519 keys");
        };
        let verifying = ed25519_dalek::VerifyingKey::from_bytes(&raw.0).unwrap();
        assert!(verifying.verify_strict(data, &signature).is_ok());
        assert!(verifying.verify_strict(b"other bytes", &signature).is_err());
        // Not an SSHSIG: the raw signature does not verify over SSHSIG's signed data.
        let signed_data = SshSig::signed_data(NAMESPACE, HashAlg::Sha512, data).unwrap();
        assert!(verifying.verify_strict(&signed_data, &signature).is_err());
    }

    #[test]
    fn a_public_key_needs_an_agent_that_can_be_reached() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        SigningKey::generate(&path, "test").unwrap();
        let pub_path = public_path(&path);
        let err = SigningKey::load_with_agent(&pub_path, None, None).unwrap_err();
        assert!(matches!(err, SignError::NoAgent { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("SSH_AUTH_SOCK is not set"), "{message}");
        assert!(message.contains(&format!("`ssh-add {}`", path.display())), "{message}");
        let err = SigningKey::load_with_agent(&pub_path, None, Some(Path::new(""))).unwrap_err();
        assert!(matches!(err, SignError::NoAgent { .. }), "{err:?}");

        let nowhere = dir.path().join("no-agent.sock");
        let err = SigningKey::load_with_agent(&pub_path, None, Some(&nowhere)).unwrap_err();
        let SignError::AgentUnreachable { socket, .. } = &err else { panic!("{err:?}") };
        assert_eq!(socket, &nowhere);
        assert!(std::error::Error::source(&err).is_some(), "the io error is kept as the source");
        assert!(err.to_string().contains("eval $(ssh-agent)"), "{err}");
    }

    #[test]
    fn a_public_key_that_is_not_ed25519_is_refused_before_any_agent_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecdsa.pub");
        std::fs::write(&path, format!("{ECDSA_PUBLIC}\n")).unwrap();
        let err = SigningKey::load(&path, None).unwrap_err();
        assert!(
            matches!(&err, SignError::NotEd25519 { algorithm, .. } if algorithm == "ecdsa-sha2-nistp256"),
            "{err:?}"
        );
    }

    /// A P-256 public key made with `ssh-keygen -t ecdsa` (its private half was discarded).
    const ECDSA_PUBLIC: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHPnjOpa/v9D+S6ye7va4LgpZZQfndLbV8uon6EYKvwXubs2pM12ipq5U1v2TG5WZbuKKq1WpLNj3jVMWDA/kKc= test";

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
