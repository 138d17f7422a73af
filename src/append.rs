//! Writing the ledger: promotions, approvals and policy versions. Each
//! operation reads what it needs, checks the result with `rules` (the same
//! functions `verify` uses), and only then writes, atomically.

use std::collections::BTreeMap;

use crate::chain::AppHistory;
use crate::clock::Timestamp;
use crate::ledger::{load_app, load_policies, RecordFile};
use crate::policy::{policy_path, Policy, PolicyError, PolicyFile};
use crate::record::{record_path, Image, Kind, Name, Record, RecordError, RecordId, Signature, RECORD_SCHEMA};
use crate::rules::{self, check_link, check_policies, check_record, Candidate, Policies, Rule, Violation};
use crate::sign::{PolicyKey, SignError, SigningKey};
use crate::store::{StoreError, WorkTree};

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
}

fn list(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("  {v}")).collect::<Vec<_>>().join("\n")
}

/// The policy chain, refusing to write under one that does not verify.
fn signed_policies(tree: &WorkTree, now: Timestamp) -> Result<Vec<PolicyFile>, AppendError> {
    let loaded = load_policies(tree)?;
    let mut problems = loaded.problems;
    problems.extend(check_policies(&loaded.value, now, None));
    if problems.is_empty() {
        Ok(loaded.value)
    } else {
        Err(AppendError::Refused(problems))
    }
}

/// The app's chain folded into its history, refusing to extend a broken one.
fn app_history(tree: &WorkTree, app: &Name, now: Timestamp) -> Result<(Vec<RecordFile>, AppHistory), AppendError> {
    let loaded = load_app(tree, app)?;
    let mut problems = loaded.problems;
    let mut history = AppHistory::default();
    for file in &loaded.value {
        problems.extend(check_link(&file.path, &file.record, history.last(), now));
        history.apply(&file.record, &file.id);
    }
    if problems.is_empty() {
        Ok((loaded.value, history))
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
#[derive(Debug)]
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
    /// Signer groups whose threshold is not met yet.
    pub pending: Vec<Pending>,
}

/// A threshold a written record does not meet yet.
#[derive(Debug)]
pub struct Pending {
    pub what: String,
    pub missing: u64,
    pub threshold: u64,
}

/// The newest policy, the environment, the signer and the app's history: what
/// every append starts from, refusing early what cannot be appended at all.
struct AppendContext {
    policies: Vec<PolicyFile>,
    signer: Name,
    history: AppHistory,
}

impl AppendContext {
    fn new(
        tree: &WorkTree,
        app: &Name,
        env: &Name,
        key: &SigningKey,
        signer: Option<Name>,
        now: Timestamp,
    ) -> Result<Self, AppendError> {
        let policies = signed_policies(tree, now)?;
        let policy_file = policies.last().ok_or_else(|| AppendError::Usage("no policy".into()))?;
        let policy = &policy_file.policy;
        if policy.environment(env).is_none() {
            return Err(AppendError::Refused(vec![Violation::new(
                &policy_file.path,
                None,
                Rule::Policy,
                format!(
                    "environment {env} is not in policy version {} (environments: {})",
                    policy.version,
                    policy.environments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )]));
        }
        let signer = resolve_signer(policy, key, signer)?;
        let (records, history) = app_history(tree, app, now)?;
        refuse_if_last_is_pending(&records, Policies(&policies))?;
        Ok(AppendContext { policies, signer, history })
    }

    fn policy(&self) -> &Policy {
        // `new` refuses an empty policy chain.
        &self.policies[self.policies.len() - 1].policy
    }

    fn environment(&self, env: &Name) -> Result<&crate::policy::Environment, AppendError> {
        self.policy()
            .environment(env)
            .ok_or_else(|| AppendError::Usage(format!("environment {env} is not in the policy")))
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

    fn next_path(&self, app: &Name) -> String {
        record_path(app, self.history.last().map_or(1, |l| l.seq + 1))
    }

    /// A new, unsigned record continuing the chain under the newest policy.
    fn record(&self, app: Name, env: Name, kind: Kind, images: Vec<Image>, at: Timestamp) -> Record {
        Record {
            schema: RECORD_SCHEMA.into(),
            app,
            seq: self.history.last().map_or(1, |l| l.seq + 1),
            prev: self.history.last().map(|l| l.id.clone()),
            policy: self.policy().version,
            env,
            from: None,
            kind,
            images,
            evidence: None,
            override_: None,
            at,
            reason: None,
            signatures: Vec::new(),
        }
    }

    /// Signs `record`, checks it with the shared rules (a missing approval is
    /// allowed and reported), and writes it as a new file.
    fn sign_check_write(
        self,
        tree: &WorkTree,
        mut record: Record,
        key: &SigningKey,
        now: Timestamp,
    ) -> Result<Written, AppendError> {
        let path = record_path(&record.app, record.seq);
        record.check_fields().map_err(|problem| RecordError::Invalid { path: path.clone(), problem })?;
        let message = crate::canonical::record_message(&record)?;
        record.signatures.push(Signature { signer: self.signer.clone(), sig: key.sign(&message)? });
        let policy = self.policy();
        let verdicts = rules::signature_verdicts(policy, &message, &record.signatures);
        let candidate = Candidate { path: &path, record: &record, verdicts: &verdicts };
        let problems: Vec<Violation> = check_record(&candidate, &self.history, Policies(&self.policies), now)
            .into_iter()
            .filter(|v| v.rule != Rule::Threshold)
            .collect();
        if !problems.is_empty() {
            return Err(AppendError::Refused(problems));
        }
        tree.write_atomic(&path, &record.to_pretty_json(), true)?;
        Ok(Written {
            path,
            id: crate::canonical::record_id(&record)?,
            pending: rules::missing_per_requirement(&record, policy, &verdicts)
                .into_iter()
                .filter(|(_, missing)| *missing > 0)
                .map(|(r, missing)| Pending { what: r.what, missing, threshold: r.threshold })
                .collect(),
            record,
        })
    }
}

/// Appends a signed promotion (or rollback) record.
pub fn promote(
    tree: &WorkTree,
    request: PromoteRequest,
    key: &SigningKey,
    now: Timestamp,
) -> Result<Written, AppendError> {
    let context = AppendContext::new(tree, &request.app, &request.env, key, request.signer, now)?;
    let env = context.environment(&request.env)?;
    let images = if !request.images.is_empty() {
        request.images
    } else if request.rollback {
        return Err(AppendError::Usage("--rollback needs --image: name the digest to return to".into()));
    } else {
        // Fan-in: every upstream must run the same digests for `all`; the first is taken.
        let upstream = env.upstreams().first().ok_or_else(|| {
            AppendError::Usage(format!("{} has no upstream environment to take images from; pass --image", env.name))
        })?;
        context.running(upstream).ok_or_else(|| {
            AppendError::Refused(vec![Violation::new(
                &context.next_path(&request.app),
                None,
                Rule::Provenance,
                format!(
                    "{upstream} runs nothing of {} yet, so there is nothing to promote to {}",
                    request.app, env.name
                ),
            )])
        })?
    };
    let from = env.from.clone();
    let kind = if request.rollback { Kind::Rollback } else { Kind::Promote };
    let mut record = context.record(request.app, request.env, kind, images, request.at.unwrap_or(now));
    record.from = from;
    record.reason = request.reason;
    record.override_ = request.override_;
    context.sign_check_write(tree, record, key, now)
}

/// What `evidence` asks for.
#[derive(Debug)]
pub struct EvidenceRequest {
    pub app: Name,
    pub env: Name,
    pub evidence: crate::record::Evidence,
    pub signer: Option<Name>,
    pub at: Option<Timestamp>,
}

/// Appends a signed evidence record for what `env` runs now.
pub fn evidence(
    tree: &WorkTree,
    request: EvidenceRequest,
    key: &SigningKey,
    now: Timestamp,
) -> Result<Written, AppendError> {
    let context = AppendContext::new(tree, &request.app, &request.env, key, request.signer, now)?;
    let images = context.running(&request.env).ok_or_else(|| {
        AppendError::Refused(vec![Violation::new(
            &context.next_path(&request.app),
            None,
            Rule::Evidence,
            format!("{} runs nothing of {} yet, so there is nothing to attest to", request.env, request.app),
        )])
    })?;
    let mut record = context.record(request.app, request.env, Kind::Evidence, images, request.at.unwrap_or(now));
    record.evidence = Some(request.evidence);
    context.sign_check_write(tree, record, key, now)
}

/// A record below its threshold must be approved before anything follows it:
/// once it has a successor it can never gain signatures, and would fail
/// verification for ever.
fn refuse_if_last_is_pending(records: &[RecordFile], policies: Policies) -> Result<(), AppendError> {
    let Some(last) = records.last() else { return Ok(()) };
    let Some(policy) = policies.get(last.record.policy) else { return Ok(()) };
    let verdicts = rules::signature_verdicts(&policy.policy, &last.message, &last.record.signatures);
    let missing = rules::missing_approvals(&last.record, &policy.policy, &verdicts);
    if missing == 0 {
        return Ok(());
    }
    Err(AppendError::Refused(vec![Violation::new(
        &last.path,
        Some(last.record.label()),
        Rule::Threshold,
        format!(
            "still needs {missing} approval(s) for {}; approve it (`gitops-ledger approve {}`) before appending to {}",
            last.record.env,
            last.record.label(),
            last.record.app
        ),
    )]))
}

/// Adds `key`'s signature to record `seq` of `app`, which must be the newest.
pub fn approve(
    tree: &WorkTree,
    app: &Name,
    seq: u64,
    key: &SigningKey,
    signer: Option<Name>,
    now: Timestamp,
) -> Result<Written, AppendError> {
    let policies = signed_policies(tree, now)?;
    let (mut records, _) = app_history(tree, app, now)?;
    let newest = records.last().map_or(0, |r| r.record.seq);
    if seq == 0 || seq > newest {
        return Err(AppendError::Usage(format!("{app}@{seq} does not exist (the newest record of {app} is {newest})")));
    }
    let target_file = records.pop().ok_or_else(|| AppendError::Usage(format!("{app} has no records")))?;
    if seq < newest {
        return Err(AppendError::Refused(vec![Violation::new(
            &record_path(app, seq),
            Some(format!("{app}@{seq}")),
            Rule::Chain,
            format!("already has a successor ({app}@{newest}), whose prev fixes its signatures; approvals go on the newest record"),
        )]));
    }
    let mut history = AppHistory::default();
    for file in &records {
        history.apply(&file.record, &file.id);
    }
    let policy = Policies(&policies)
        .get(target_file.record.policy)
        .ok_or_else(|| AppendError::Usage(format!("{app}@{seq} cites a policy version that does not exist")))?;
    let signer = resolve_signer(&policy.policy, key, signer)?;
    let mut record = target_file.record;
    if record.signatures.iter().any(|s| s.signer == signer) {
        return Err(AppendError::Refused(vec![Violation::new(
            &target_file.path,
            Some(record.label()),
            Rule::Signature,
            format!("{signer} already signed this record; a signer counts once"),
        )]));
    }
    record.signatures.push(Signature { signer, sig: key.sign(&target_file.message)? });
    let verdicts = rules::signature_verdicts(&policy.policy, &target_file.message, &record.signatures);
    let candidate = Candidate { path: &target_file.path, record: &record, verdicts: &verdicts };
    let problems: Vec<Violation> = check_record(&candidate, &history, Policies(&policies), now)
        .into_iter()
        .filter(|v| v.rule != Rule::Threshold)
        .collect();
    if !problems.is_empty() {
        return Err(AppendError::Refused(problems));
    }
    tree.write_atomic(&target_file.path, &record.to_pretty_json(), false)?;
    Ok(Written {
        path: target_file.path,
        id: crate::canonical::record_id(&record)?,
        pending: rules::missing_per_requirement(&record, &policy.policy, &verdicts)
            .into_iter()
            .filter(|(_, missing)| *missing > 0)
            .map(|(r, missing)| Pending { what: r.what, missing, threshold: r.threshold })
            .collect(),
        record,
    })
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
pub fn sign_policy(
    tree: &WorkTree,
    key: &SigningKey,
    signer: Option<Name>,
    now: Timestamp,
) -> Result<PolicySigned, AppendError> {
    let loaded = load_policies(tree)?;
    if !loaded.problems.is_empty() {
        return Err(AppendError::Refused(loaded.problems));
    }
    let mut policies = loaded.value;
    let newest = policies
        .pop()
        .ok_or_else(|| AppendError::Usage("there is no policy to sign; run `gitops-ledger init` first".into()))?;
    let previous = policies.last().map(|p| &p.policy);
    let signer = match resolve_signer(&newest.policy, key, signer.clone()) {
        Ok(name) => name,
        Err(err) => match previous {
            Some(previous) => resolve_signer(previous, key, signer)?,
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
    policy.signatures.push(Signature { signer: signer.clone(), sig: key.sign(&newest.message)? });
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
    let written = policies.last().ok_or_else(|| AppendError::Usage("no policy".into()))?;
    tree.write_atomic(&written.path, &written.policy.to_pretty_json(), false)?;
    Ok(PolicySigned {
        path: written.path.clone(),
        version: written.policy.version,
        signer,
        id: written.id.clone(),
        outstanding,
    })
}

/// Copies the newest (fully signed) policy to version N+1, unsigned.
pub fn new_policy_version(tree: &WorkTree, now: Timestamp) -> Result<String, AppendError> {
    let policies = signed_policies(tree, now)?;
    let newest =
        policies.last().ok_or_else(|| AppendError::Usage("there is no policy yet; run `gitops-ledger init`".into()))?;
    let mut policy = newest.policy.clone();
    policy.version += 1;
    policy.at = now;
    policy.signatures.clear();
    let path = policy_path(policy.version);
    tree.write_atomic(&path, &policy.to_pretty_json(), true)?;
    Ok(path)
}

/// Writes the unsigned policy version 1 template.
pub fn init(
    tree: &WorkTree,
    keys: BTreeMap<Name, PolicyKey>,
    ci: Vec<Name>,
    now: Timestamp,
) -> Result<String, AppendError> {
    for name in &ci {
        if !keys.contains_key(name) {
            return Err(AppendError::Usage(format!("--ci {name}: give its public key with --key {name}=FILE.pub")));
        }
    }
    let policy = crate::policy::template(keys, ci, now);
    let path = policy_path(1);
    tree.write_atomic(&path, &policy.to_pretty_json(), true).map_err(|err| match err {
        StoreError::Exists { path } => AppendError::Usage(format!(
            "{path} already exists; this repo has a ledger (use `policy new` to change the policy)"
        )),
        other => other.into(),
    })?;
    Ok(path)
}

/// What the projection of the work tree's ledger should write, under the
/// newest policy (refusing, as appends do, under a policy that does not verify).
pub fn projection(tree: &WorkTree, now: Timestamp) -> Result<Vec<crate::project::ProjectedFile>, AppendError> {
    let policies = signed_policies(tree, now)?;
    let newest =
        policies.last().ok_or_else(|| AppendError::Usage("there is no policy yet; run `gitops-ledger init`".into()))?;
    let states = crate::project::fold_all(tree, Policies(&policies))?;
    Ok(crate::project::plan(tree, &newest.policy, &states).into_iter().collect::<Result<_, _>>()?)
}

/// The projection after one app changed: that app's overlays, and its entry
/// in versions.json, with every other app's entry kept as it is (a full
/// `project` or `verify` checks those). This keeps an append's cost
/// independent of the size of the ledger. Without a readable versions.json
/// it falls back to the full projection.
pub fn projection_for_app(
    tree: &WorkTree,
    app: &Name,
    now: Timestamp,
) -> Result<Vec<crate::project::ProjectedFile>, AppendError> {
    use crate::project::{fold_for_projection, plan_overlays, read_optional, ProjectedFile, Target, VERSIONS_PATH};
    let current = read_optional(tree, VERSIONS_PATH)?;
    let Some(mut versions) = current.as_ref().and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok()) else {
        return projection(tree, now);
    };
    let Some(apps) = versions.get_mut("apps").and_then(serde_json::Value::as_object_mut) else {
        return projection(tree, now);
    };
    let policies = signed_policies(tree, now)?;
    let newest =
        policies.last().ok_or_else(|| AppendError::Usage("there is no policy yet; run `gitops-ledger init`".into()))?;
    let state = fold_for_projection(app, &load_app(tree, app)?.value, Policies(&policies));
    let own: serde_json::Value = serde_json::from_slice(&crate::project::versions_json(std::slice::from_ref(&state)))
        .map_err(crate::canonical::CanonicalError::from)?;
    match own["apps"].get(app.as_str()) {
        Some(entry) => apps.insert(app.to_string(), entry.clone()),
        None => apps.remove(app.as_str()),
    };
    let mut files = vec![ProjectedFile {
        path: VERSIONS_PATH.into(),
        current,
        projected: crate::record::pretty_json(&versions),
        target: Target::Versions,
    }];
    for file in plan_overlays(tree, &newest.policy, std::slice::from_ref(&state)) {
        files.push(file?);
    }
    Ok(files)
}

/// Writes the projected files that change, atomically; returns their paths.
pub fn write_projection(tree: &WorkTree, files: &[crate::project::ProjectedFile]) -> Result<Vec<String>, AppendError> {
    let mut written = Vec::new();
    for file in files.iter().filter(|f| f.changes()) {
        tree.write_atomic(&file.path, &file.projected, false)?;
        written.push(file.path.clone());
    }
    Ok(written)
}
