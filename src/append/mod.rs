//! Writing the ledger: promotions, evidence, approvals and policy versions.
//! Each is a [`Change`] that reads what it needs from the loaded ledger and
//! checks the result with `rules` (the same functions `verify` uses) before
//! anything is written; a [`Transaction`] then writes it.

mod transaction;

use std::collections::BTreeMap;

use crate::chain::{AppHistory, Chain, Outcome};
use crate::clock::Timestamp;
use crate::fold_cache::FoldCache;
use crate::ledger::{Ledger, RecordFile};
use crate::policy::{policy_path, Policy, PolicyError, PolicyFile};
use crate::project::ProjectedFile;
use crate::record::{record_path, Image, Kind, Name, Record, RecordError, RecordId, Signature, RECORD_SCHEMA};
use crate::rules::{self, check_link, check_policies, check_record, Candidate, Rule, Violation};
use crate::sign::{PolicyKey, SignError, SigningKey};
use crate::store::StoreError;

pub use transaction::{Applied, Change, Landed, NewFile, Prepared, PushOptions, Reads, Transaction, WriteOptions};

use crate::ledger::APPS_DIR;
use crate::policy::POLICY_DIR;

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Writing would break a rule (exit 1); nothing was written.
    #[error("refused, nothing was written:\n{}", list(.0))]
    Refused(Vec<Violation>),
    /// The command line asked for something impossible (exit 2).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Canonical(#[from] crate::canonical::CanonicalError),
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// `--commit` or `--push` with ledger files the commit depends on not committed.
    #[error(
        "{} {} not committed, and the commit this makes needs {}: commit {} first (`git add` and `git commit`), \
         or leave out --commit and --push; nothing was written",
        .0.join(", "),
        if .0.len() == 1 { "is" } else { "are" },
        if .0.len() == 1 { "it" } else { "them" },
        if .0.len() == 1 { "it" } else { "them" }
    )]
    Uncommitted(Vec<String>),
    /// A push found the remote moved on, and the change, made again there, failed.
    #[error("{remote} moved on while this was being pushed; made again on its new tip (attempt {}), {source}; nothing was pushed, and your branch is now at {remote}", rebuilds + 1)]
    Moved { remote: String, rebuilds: u32, source: Box<AppendError> },
    /// Every push found the remote moved on.
    #[error("gave up after {attempts} pushes: other writers kept moving {remote} (last: {reason}); nothing was pushed, and your branch is now at {remote}; run this again, or raise --retries")]
    Crowded { remote: String, attempts: u32, reason: String },
    /// The commit was made, but pushing it failed for a reason a retry cannot fix.
    #[error("committed {commit} on your branch, but did not push it: {source}")]
    NotPushed { commit: String, source: crate::remote::RemoteError },
    /// A step failed after the first write, and every file written was put
    /// back, or before it (the projection was refused).
    #[error("{0}; nothing was written")]
    Undone(Box<AppendError>),
    /// A write failed, and putting back what was written failed too.
    #[error("{source}; putting the files back failed too, so fix these by hand: {}", failed.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    UndoFailed { source: Box<AppendError>, failed: Vec<StoreError> },
}

fn list(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("  {v}")).collect::<Vec<_>>().join("\n")
}

/// The policy chain, refusing to write under one that does not verify.
fn signed_policies<'l>(ledger: &'l Ledger, now: Timestamp) -> Result<&'l [PolicyFile], AppendError> {
    let problems = ledger.policy_violations(now, None);
    if problems.is_empty() {
        Ok(ledger.policy_files())
    } else {
        Err(AppendError::Refused(problems))
    }
}

fn no_policy() -> AppendError {
    AppendError::Usage("there is no policy yet; run `gitops-ledger init`".into())
}

/// What projecting the whole ledger writes, refusing (as appends do) under a
/// policy chain that does not verify; each app's fold taken from `cache`
/// where it holds it.
pub fn projection(
    ledger: &Ledger,
    now: Timestamp,
    cache: Option<&FoldCache>,
) -> Result<Vec<ProjectedFile>, AppendError> {
    signed_policies(ledger, now)?.last().ok_or_else(no_policy)?;
    Ok(crate::project::plan_ledger(ledger, None, cache)?)
}

/// Every policy version, which a commit of anything cited under them needs.
fn policy_reads(policies: rules::Policies) -> Reads {
    Reads { files: policies.0.iter().map(|p| p.path.clone()).collect(), dirs: vec![POLICY_DIR.to_string()] }
}

/// The app's chain and its fold, refusing to extend a broken chain.
fn app_history(ledger: &Ledger, app: &Name, now: Timestamp) -> Result<(Chain, AppHistory), AppendError> {
    let chain = ledger.chain(app)?;
    let mut problems = chain.problems.clone();
    let mut history = AppHistory::default();
    for file in &chain.records {
        problems.extend(check_link(&file.path, &file.record, history.last(), now));
        history.push(file, ledger.policies());
    }
    if problems.is_empty() {
        Ok((chain, history))
    } else {
        Err(AppendError::Refused(problems))
    }
}

/// The policy name of `key`, or `--signer` checked against it.
fn resolve_signer(policy: &Policy, key: &SigningKey, signer: Option<Name>) -> Result<Name, AppendError> {
    let by_key = policy.signer_for_key(key.public_key());
    match (signer, by_key) {
        (Some(signer), _) => match policy.keys.get(&signer) {
            Some(registered) if registered.same_key(key.public_key()) => Ok(signer),
            Some(_) => Err(AppendError::Usage(format!(
                "{} is not the key policy version {} gives {signer}",
                key.path().display(),
                policy.version
            ))),
            None => Err(AppendError::Usage(format!(
                "signer {signer} is not in policy version {}; known signers: {}",
                policy.version,
                policy.keys.keys().map(Name::as_str).collect::<Vec<_>>().join(", ")
            ))),
        },
        (None, Some(name)) => Ok(name.clone()),
        (None, None) => Err(AppendError::Usage(format!(
            "the key in {} is not in policy version {}; add it to the policy's keys, or pass --signer",
            key.path().display(),
            policy.version
        ))),
    }
}

/// What `promote` asks for.
#[derive(Clone, Debug)]
pub struct PromoteRequest {
    pub app: Name,
    pub env: Name,
    /// Empty: take what the upstream environment runs now.
    pub images: Vec<Image>,
    pub signer: Option<Name>,
    pub reason: Option<String>,
    pub at: Option<Timestamp>,
    pub rollback: bool,
    /// Break-glass: the rules this record waives, and why.
    pub override_: Option<crate::record::Override>,
}

/// A record that was written.
#[derive(Debug)]
pub struct Written {
    pub path: String,
    pub record: Record,
    pub id: RecordId,
    /// For an approval: the record it approves, as `app@seq`.
    pub approves: Option<String>,
    /// The promote or rollback that takes effect with this record (itself,
    /// or the record an approval completes), as `app@seq`.
    pub takes_effect: Option<String>,
    /// Signer groups whose threshold the written record (or the record it
    /// approves) does not meet yet.
    pub pending: Vec<Pending>,
}

/// A threshold a written record does not meet yet.
#[derive(Debug)]
pub struct Pending {
    pub what: String,
    pub missing: u64,
    pub threshold: u64,
}

/// The newest policy, the environment, the signer and the app's chain: what
/// every append starts from, refusing early what cannot be appended at all.
struct AppendContext<'l> {
    policies: rules::Policies<'l>,
    newest: &'l PolicyFile,
    signer: Name,
    chain: Chain,
    history: AppHistory,
}

impl<'l> AppendContext<'l> {
    fn new(
        ledger: &'l Ledger,
        app: &Name,
        key: &SigningKey,
        signer: Option<Name>,
        now: Timestamp,
    ) -> Result<Self, AppendError> {
        let policies = signed_policies(ledger, now)?;
        let newest = policies.last().ok_or_else(no_policy)?;
        let signer = resolve_signer(&newest.policy, key, signer)?;
        let (chain, history) = app_history(ledger, app, now)?;
        Ok(AppendContext { policies: ledger.policies(), newest, signer, chain, history })
    }

    /// `env` in the newest policy, refusing an environment it does not have.
    fn environment(&self, env: &Name) -> Result<&'l crate::policy::Environment, AppendError> {
        let policy = &self.newest.policy;
        policy.environment(env).ok_or_else(|| {
            AppendError::Refused(vec![Violation::new(
                &self.newest.path,
                None,
                Rule::Policy,
                format!(
                    "environment {env} is not in policy version {} (environments: {})",
                    policy.version,
                    policy.environments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )])
        })
    }

    /// What `env` runs now, as images to set or attest to.
    fn running(&self, env: &Name) -> Option<Vec<Image>> {
        let state = self.history.env(env).map(|e| e.state()).filter(|s| !s.is_empty())?;
        Some(
            state
                .iter()
                .map(|(name, s)| Image { name: name.clone(), digest: s.digest.clone(), tag: s.tag.clone() })
                .collect(),
        )
    }

    fn next_seq(&self) -> u64 {
        self.history.last().map_or(1, |l| l.seq + 1)
    }

    /// A refusal about the record this append would write.
    fn refuse(&self, app: &Name, rule: Rule, message: String) -> AppendError {
        AppendError::Refused(vec![Violation::new(&record_path(app, self.next_seq()), None, rule, message)])
    }

    /// A new, unsigned record continuing the chain under the newest policy.
    fn record(&self, app: Name, env: Name, kind: Kind, images: Vec<Image>, at: Timestamp) -> Record {
        Record {
            schema: RECORD_SCHEMA.into(),
            app,
            seq: self.next_seq(),
            prev: self.history.last().map(|l| l.id.clone()),
            policy: self.newest.policy.version,
            env,
            from: None,
            kind,
            images,
            approves: None,
            evidence: None,
            override_: None,
            at,
            reason: None,
            signatures: Vec::new(),
        }
    }

    /// Signs `record`, checks it with the shared rules (a missing approval is
    /// allowed and reported), and says to write it as a new file.
    fn sign_and_check(
        self,
        mut record: Record,
        key: &SigningKey,
        now: Timestamp,
        commit_message: String,
    ) -> Result<Prepared<Written>, AppendError> {
        let path = record_path(&record.app, record.seq);
        record.check_fields().map_err(|problem| RecordError::Invalid { path: path.clone(), problem })?;
        let message = crate::canonical::record_message(&record)?;
        record.signatures.push(Signature { signer: self.signer.clone(), sig: key.sign(&message)? });
        let verdicts = rules::signature_verdicts(&self.newest.policy, &message, &record.signatures);
        let candidate = Candidate { path: &path, record: &record, verdicts: &verdicts };
        let mut problems = check_record(&candidate, &self.history, self.policies, now);
        let file = RecordFile::new(path, record)?;
        // What the record does to the fold: an approval may be refused there.
        let mut history = self.history;
        let pushed = history.push(&file, self.policies);
        problems.extend(pushed.findings);
        if !problems.is_empty() {
            return Err(AppendError::Refused(problems));
        }
        let target = file.record.approves.as_ref().unwrap_or(&file.id);
        let pending = history
            .pending(self.policies)
            .into_iter()
            .find(|p| &p.file.id == target)
            .map(|p| {
                p.missing
                    .into_iter()
                    .map(|m| Pending {
                        what: m.requirement.what.into_owned(),
                        missing: m.missing,
                        threshold: m.requirement.threshold,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let label = |seq: u64| format!("{}@{seq}", file.record.app);
        let takes_effect = pushed.effect.map(|effect| label(effect.seq));
        let approves = file.record.approves.as_ref().and_then(|id| history.outcome(id)).map(|(seq, _)| label(seq));
        let written = Written {
            path: file.path.clone(),
            record: file.record.clone(),
            id: file.id.clone(),
            approves,
            takes_effect,
            pending,
        };
        let new_file = NewFile { path: file.path.clone(), bytes: file.record.to_pretty_json(), create_new: true };
        let mut chain = self.chain;
        // The commit needs every policy version and the chain it extends.
        let mut reads = policy_reads(self.policies);
        reads.files.extend(chain.last().map(|last| last.path.clone()));
        reads.dirs.push(format!("{APPS_DIR}/{}", file.record.app));
        chain.records.push(file);
        Ok(Prepared { outcome: written, files: vec![new_file], chain: Some(chain), commit_message, reads })
    }
}

/// Appends a signed promotion (or rollback) record.
#[derive(Debug)]
pub struct Promote<'k> {
    pub request: PromoteRequest,
    pub key: &'k SigningKey,
}

impl Change for Promote<'_> {
    type Outcome = Written;

    fn prepare(&self, ledger: &Ledger, now: Timestamp) -> Result<Prepared<Written>, AppendError> {
        let request = self.request.clone();
        let context = AppendContext::new(ledger, &request.app, self.key, request.signer, now)?;
        let env = context.environment(&request.env)?;
        let images = if !request.images.is_empty() {
            request.images
        } else if request.rollback {
            return Err(AppendError::Usage("--rollback needs --image: name the digest to return to".into()));
        } else {
            // Fan-in: every upstream must run the same digests for `all`; the first is taken.
            let upstream = env.upstreams().first().ok_or_else(|| {
                AppendError::Usage(format!(
                    "{} has no upstream environment to take images from; pass --image",
                    env.name
                ))
            })?;
            context.running(upstream).ok_or_else(|| {
                context.refuse(
                    &request.app,
                    Rule::Provenance,
                    format!(
                        "{upstream} runs nothing of {} yet, so there is nothing to promote to {}",
                        request.app, env.name
                    ),
                )
            })?
        };
        let kind = if request.rollback { Kind::Rollback } else { Kind::Promote };
        let mut record = context.record(request.app, request.env, kind, images, request.at.unwrap_or(now));
        record.from = env.from.clone();
        record.reason = request.reason;
        record.override_ = request.override_;
        let digest = record.images.first().map_or("", |i| i.digest.short());
        let verb = if request.rollback { "rollback" } else { "promote" };
        let message = format!("chore({}): {verb} {} to {digest}\n", record.env, record.app);
        context.sign_and_check(record, self.key, now, message)
    }

    /// The images resolved the first time: a rebuild does not read the upstream again.
    fn again(&self, made: &Written) -> Option<Self> {
        let request = PromoteRequest { images: made.record.images.clone(), ..self.request.clone() };
        Some(Promote { request, key: self.key })
    }
}

/// What `evidence` asks for.
#[derive(Clone, Debug)]
pub struct EvidenceRequest {
    pub app: Name,
    pub env: Name,
    pub evidence: crate::record::Evidence,
    pub signer: Option<Name>,
    pub at: Option<Timestamp>,
}

/// Appends a signed evidence record for what `env` runs now.
#[derive(Debug)]
pub struct AddEvidence<'k> {
    pub request: EvidenceRequest,
    pub key: &'k SigningKey,
    /// What the evidence was gathered for, when made again on a moved tip:
    /// refused if the environment runs something else there.
    pub expected: Option<Vec<Image>>,
}

impl Change for AddEvidence<'_> {
    type Outcome = Written;

    fn prepare(&self, ledger: &Ledger, now: Timestamp) -> Result<Prepared<Written>, AppendError> {
        let request = self.request.clone();
        let context = AppendContext::new(ledger, &request.app, self.key, request.signer, now)?;
        context.environment(&request.env)?;
        let images = context.running(&request.env).ok_or_else(|| {
            context.refuse(
                &request.app,
                Rule::Evidence,
                format!("{} runs nothing of {} yet, so there is nothing to attest to", request.env, request.app),
            )
        })?;
        if self.expected.as_ref().is_some_and(|expected| expected != &images) {
            let shown: Vec<String> = images.iter().map(ToString::to_string).collect();
            return Err(context.refuse(
                &request.app,
                Rule::Evidence,
                format!(
                    "{} runs {} now, not what this evidence was gathered for; gather it again for what runs now",
                    request.env,
                    shown.join(", ")
                ),
            ));
        }
        let message = format!(
            "chore({}): {} {} for {}\n",
            request.env, request.evidence.kind, request.evidence.result, request.app
        );
        let mut record = context.record(request.app, request.env, Kind::Evidence, images, request.at.unwrap_or(now));
        record.evidence = Some(request.evidence);
        context.sign_and_check(record, self.key, now, message)
    }

    fn again(&self, made: &Written) -> Option<Self> {
        Some(AddEvidence { request: self.request.clone(), key: self.key, expected: Some(made.record.images.clone()) })
    }
}

/// Appends an approval record for record `seq` of `app`, a promote or
/// rollback still waiting for approvals.
#[derive(Debug)]
pub struct Approve<'k> {
    pub app: Name,
    pub seq: u64,
    pub key: &'k SigningKey,
    pub signer: Option<Name>,
    /// The approval's time (default: now).
    pub at: Option<Timestamp>,
}

impl Change for Approve<'_> {
    type Outcome = Written;

    fn prepare(&self, ledger: &Ledger, now: Timestamp) -> Result<Prepared<Written>, AppendError> {
        let (app, seq) = (&self.app, self.seq);
        let context = AppendContext::new(ledger, app, self.key, self.signer.clone(), now)?;
        let newest = context.chain.last().map_or(0, |r| r.record.seq);
        let target = context.chain.records.iter().find(|r| r.record.seq == seq).ok_or_else(|| {
            AppendError::Usage(format!("{app}@{seq} does not exist (the newest record of {app} is {newest})"))
        })?;
        if !matches!(target.record.kind, Kind::Promote | Kind::Rollback) {
            return Err(AppendError::Refused(vec![Violation::new(
                &target.path,
                Some(target.record.label()),
                Rule::Approval,
                format!("is not a promotion or rollback but {}; only those are approved", target.record.kind),
            )]));
        }
        let (env, images, id) = (target.record.env.clone(), target.record.images.clone(), target.id.clone());
        let mut record = context.record(app.clone(), env, Kind::Approval, images, self.at.unwrap_or(now));
        record.approves = Some(id);
        let message = format!("chore({}): approve {app}@{seq} ({})\n", record.env, context.signer);
        context.sign_and_check(record, self.key, now, message)
    }

    /// Another approval completed the record meanwhile: what this one was for is done.
    fn done_on(&self, ledger: &Ledger) -> Option<String> {
        let chain = ledger.chain(&self.app).ok()?;
        let target = chain.records.iter().find(|r| r.record.seq == self.seq)?;
        let history = chain.fold(ledger.policies());
        match history.outcome(&target.id)? {
            (_, Outcome::Effective { at }) => {
                Some(format!("{}@{} took effect at {at}, completed by another approval", self.app, self.seq))
            }
            _ => None,
        }
    }
}

/// The state of a policy version after `policy sign`.
#[derive(Debug)]
pub struct PolicySigned {
    pub path: String,
    pub version: u64,
    pub signer: Name,
    pub id: RecordId,
    /// What still keeps the policy chain from verifying (missing root signatures).
    pub outstanding: Vec<Violation>,
}

/// Signs the newest policy version with a root key of it or of the version before.
#[derive(Debug)]
pub struct SignPolicy<'k> {
    pub key: &'k SigningKey,
    pub signer: Option<Name>,
}

impl Change for SignPolicy<'_> {
    type Outcome = PolicySigned;

    fn prepare(&self, ledger: &Ledger, now: Timestamp) -> Result<Prepared<PolicySigned>, AppendError> {
        if !ledger.policy_problems().is_empty() {
            return Err(AppendError::Refused(ledger.policy_problems().to_vec()));
        }
        let mut policies = ledger.policy_files().to_vec();
        let newest = policies
            .pop()
            .ok_or_else(|| AppendError::Usage("there is no policy to sign; run `gitops-ledger init` first".into()))?;
        let previous = policies.last().map(|p| &p.policy);
        let signer = match resolve_signer(&newest.policy, self.key, self.signer.clone()) {
            Ok(name) => name,
            Err(err) => match previous {
                Some(previous) => resolve_signer(previous, self.key, self.signer.clone())?,
                None => return Err(err),
            },
        };
        let is_root =
            newest.policy.root.signers.contains(&signer) || previous.is_some_and(|p| p.root.signers.contains(&signer));
        let refuse = |message: String| {
            AppendError::Refused(vec![Violation::new(
                &newest.path,
                Some(format!("policy@{}", newest.policy.version)),
                Rule::Signature,
                message,
            )])
        };
        if !is_root {
            return Err(refuse(format!("{signer} is not a root signer of this or the previous policy version")));
        }
        if newest.policy.signatures.iter().any(|s| s.signer == signer) {
            return Err(refuse(format!("{signer} already signed policy version {}", newest.policy.version)));
        }
        let mut policy = newest.policy;
        policy.signatures.push(Signature { signer: signer.clone(), sig: self.key.sign(&newest.message)? });
        let signed = PolicyFile::new(newest.path.clone(), policy)?;
        policies.push(signed);
        let outstanding: Vec<Violation> =
            check_policies(&policies, now, None).into_iter().filter(|v| v.file == newest.path).collect();
        // Anything but "not enough signatures yet" means the signature made things worse.
        let broken: Vec<Violation> =
            outstanding.iter().filter(|v| !matches!(v.rule, Rule::Threshold | Rule::Policy)).cloned().collect();
        if !broken.is_empty() {
            return Err(AppendError::Refused(broken));
        }
        let written = policies.pop().ok_or_else(no_policy)?;
        let message = format!("chore(policy): sign version {} ({signer})\n", written.policy.version);
        // The version signed may hold uncommitted edits (that is how it is
        // written); the versions before it must be committed.
        let reads = Reads { files: policies.iter().map(|p| p.path.clone()).collect(), dirs: Vec::new() };
        Ok(Prepared {
            files: vec![NewFile {
                path: written.path.clone(),
                bytes: written.policy.to_pretty_json(),
                create_new: false,
            }],
            outcome: PolicySigned {
                path: written.path,
                version: written.policy.version,
                signer,
                id: written.id,
                outstanding,
            },
            chain: None,
            commit_message: message,
            reads,
        })
    }
}

/// Copies the newest (fully signed) policy to version N+1, unsigned.
#[derive(Debug)]
pub struct NewPolicyVersion;

impl Change for NewPolicyVersion {
    /// The new version's path.
    type Outcome = String;

    fn prepare(&self, ledger: &Ledger, now: Timestamp) -> Result<Prepared<String>, AppendError> {
        let newest = signed_policies(ledger, now)?.last().ok_or_else(no_policy)?;
        let mut policy = newest.policy.clone();
        policy.version += 1;
        policy.at = now;
        policy.signatures.clear();
        let path = policy_path(policy.version);
        Ok(Prepared {
            files: vec![NewFile { path: path.clone(), bytes: policy.to_pretty_json(), create_new: true }],
            commit_message: format!("chore(policy): start version {}\n", policy.version),
            outcome: path,
            chain: None,
            reads: policy_reads(ledger.policies()),
        })
    }
}

/// Writes the unsigned policy version 1 template.
#[derive(Debug)]
pub struct Init {
    pub keys: BTreeMap<Name, PolicyKey>,
    pub ci: Vec<Name>,
    /// Path templates of `kustomize` targets (none: the default overlay).
    pub targets: Vec<String>,
}

impl Change for Init {
    /// The policy's path.
    type Outcome = String;

    fn prepare(&self, ledger: &Ledger, now: Timestamp) -> Result<Prepared<String>, AppendError> {
        let path = policy_path(1);
        if !ledger.policy_files().is_empty() || !ledger.policy_problems().is_empty() {
            return Err(AppendError::Usage(format!(
                "{path} already exists; this repo has a ledger (use `policy new` to change the policy)"
            )));
        }
        for name in &self.ci {
            if !self.keys.contains_key(name) {
                return Err(AppendError::Usage(format!("--ci {name}: give its public key with --key {name}=FILE.pub")));
            }
        }
        let policy = crate::policy::template(self.keys.clone(), self.ci.clone(), &self.targets, now)
            .map_err(|problem| AppendError::Usage(format!("--target {problem}")))?;
        Ok(Prepared {
            files: vec![NewFile { path: path.clone(), bytes: policy.to_pretty_json(), create_new: true }],
            commit_message: "chore(policy): version 1\n".into(),
            outcome: path,
            chain: None,
            reads: Reads::default(),
        })
    }
}
