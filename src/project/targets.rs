//! The policy's targets applied to app states: which file each app's
//! environment writes, what it sets there, and the edit of each file. A
//! file may take writes from several targets and apps; each write owns its
//! entries, and two writes owning one entry is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::overlay::{self, FoundImage, WantedImage};
use super::values::{self, KeyPath};
use super::{image_field, ProjectError};
use crate::policy::{Policy, Target, TargetKind};
use crate::record::Name;
use crate::view::{AppView, EnvView};

/// What one target writes into one file for one app in one environment.
#[derive(Clone, Debug)]
pub struct Write {
    /// The target's path template, as the policy has it.
    pub template: String,
    pub kind: TargetKind,
    pub app: Name,
    pub env: Name,
    pub values: Values,
}

#[derive(Clone, Debug)]
pub enum Values {
    /// `kustomize` and `image-field`: image name → digest and tag.
    Images(BTreeMap<String, WantedImage>),
    /// `yaml`: key path → value.
    Keys(Vec<(KeyPath, String)>),
}

/// A part of a file that one write owns.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    ImagesEntry(String),
    ImageField(String),
    Key(KeyPath),
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::ImagesEntry(name) => write!(f, "the images entry for {name}"),
            Entry::ImageField(name) => write!(f, "the image: fields of {name}"),
            Entry::Key(path) => write!(f, "the key {path}"),
        }
    }
}

impl Write {
    fn new(target: &Target, app: &Name, env: &Name, view: &EnvView) -> Result<Write, String> {
        let images: BTreeMap<String, WantedImage> = view
            .state
            .iter()
            .filter(|(name, _)| target.serves_image(name.as_str()))
            .map(|(name, s)| {
                (
                    name.to_string(),
                    WantedImage { digest: s.digest.to_string(), tag: s.tag.as_ref().map(|t| t.to_string()) },
                )
            })
            .collect();
        let values = match (target.kind(), &target.set) {
            (TargetKind::Yaml, Some(set)) => Values::Keys(yaml_values(target, set, app, env, view, &images)?),
            _ => Values::Images(images),
        };
        Ok(Write { template: target.path.clone(), kind: target.kind(), app: app.clone(), env: env.clone(), values })
    }

    fn is_empty(&self) -> bool {
        match &self.values {
            Values::Images(images) => images.is_empty(),
            Values::Keys(keys) => keys.is_empty(),
        }
    }

    /// The entries the write owns.
    pub fn entries(&self) -> Vec<Entry> {
        match (&self.values, self.kind) {
            (Values::Images(images), TargetKind::ImageField) => images.keys().cloned().map(Entry::ImageField).collect(),
            (Values::Images(images), _) => images.keys().cloned().map(Entry::ImagesEntry).collect(),
            (Values::Keys(keys), _) => keys.iter().map(|(path, _)| Entry::Key(path.clone())).collect(),
        }
    }

    fn owner(&self) -> String {
        format!("{} in {} (target {})", self.app, self.env, self.template)
    }
}

/// A `yaml` target's keys and values for the image it takes.
fn yaml_values(
    target: &Target,
    set: &BTreeMap<String, String>,
    app: &Name,
    env: &Name,
    view: &EnvView,
    images: &BTreeMap<String, WantedImage>,
) -> Result<Vec<(KeyPath, String)>, String> {
    let runs = || images.keys().cloned().collect::<Vec<_>>().join(", ");
    let (name, want) = match &target.image {
        Some(name) => match images.get_key_value(name) {
            Some(found) => found,
            None if images.is_empty() => return Ok(Vec::new()),
            None => {
                return Err(format!(
                    "the target takes image {name}, which {app} has not promoted into {env} (it runs {}); \
                     fix the target's image, or narrow the target with apps",
                    runs()
                ))
            }
        },
        None => match images.iter().next() {
            Some(only) if images.len() == 1 => only,
            Some(_) => {
                return Err(format!(
                    "{app} runs {} images in {env} ({}); name the one this file takes with the target's image",
                    images.len(),
                    runs()
                ))
            }
            None => return Ok(Vec::new()),
        },
    };
    let mut keys = Vec::with_capacity(set.len());
    for (key, template) in set {
        let path = KeyPath::parse(key).map_err(|e| format!("set key {key:?}: {e}"))?;
        if template.contains("{tag}") && want.tag.is_none() {
            let seq = view.state.iter().find(|(n, _)| n.as_str() == name).map_or(0, |(_, s)| s.seq);
            return Err(format!(
                "sets {key} from {{tag}}, but {app}@{seq}, which sets {name} in {env}, has no tag; \
                 promote it with a tag, or drop {{tag}} from the template"
            ));
        }
        let value = template
            .replace("{ref}", &image_field::reference(name, want))
            .replace("{name}", name)
            .replace("{digest}", &want.digest)
            .replace("{tag}", want.tag.as_deref().unwrap_or_default());
        keys.push((path, value));
    }
    Ok(keys)
}

/// A target file the ledger manages: the app and environment it is the
/// file of, and the target that names it.
#[derive(Clone, Debug)]
pub struct Managed {
    pub path: String,
    pub target: Target,
    pub app: Name,
    pub env: Name,
}

/// The target files the ledger manages for `state`'s app: in each
/// environment of the policy (and any its records name), the file each
/// target serving the app there names. An app is the ledger's from its
/// first record on; one without records manages nothing, so a repo adopting
/// the ledger keeps the images its files pin (in the commit that adds the
/// policy too) until the app's first record takes its files over. This is
/// the one place that decides: the projection (verify rule 7, `project`,
/// every append) writes only into these files, and `audit` looks for
/// unbacked changes only in them, so the two cannot disagree on adoption.
pub fn managed_files(policy: &Policy, state: &AppView) -> Vec<Managed> {
    if !state.has_records {
        return Vec::new();
    }
    let mut envs: BTreeSet<&Name> = policy.environments.iter().map(|e| &e.name).collect();
    envs.extend(state.envs.keys());
    let targets = policy.targets();
    let mut out = Vec::new();
    for env in envs {
        for target in targets.iter().filter(|t| t.serves(&state.app, env)) {
            out.push(Managed {
                path: target.path_for(&state.app, env),
                target: target.clone(),
                app: state.app.clone(),
                env: env.clone(),
            });
        }
    }
    out
}

/// Every write of `states` under `policy`, by file; a write that cannot be
/// made is an error in its file's place.
pub fn writes(policy: &Policy, states: &[AppView]) -> BTreeMap<String, Vec<Result<Write, ProjectError>>> {
    let mut by_path: BTreeMap<String, Vec<Result<Write, ProjectError>>> = BTreeMap::new();
    for state in states {
        for file in managed_files(policy, state) {
            // A managed file of an environment the app runs nothing in yet keeps what it has.
            let Some(view) = state.env(&file.env).filter(|v| !v.state.is_empty()) else { continue };
            let write = match Write::new(&file.target, &state.app, &file.env, view) {
                Ok(write) if write.is_empty() => continue,
                Ok(write) => Ok(write),
                Err(problem) => Err(ProjectError::Target { path: file.path.clone(), problem }),
            };
            by_path.entry(file.path).or_default().push(write);
        }
    }
    by_path
}

/// The file's text with every write made: the `images:` entries first,
/// then the `image:` fields, then the keys. Refused when two writes own one
/// entry, or when one write would undo another.
pub fn edit(path: &str, text: &str, writes: &[Write]) -> Result<String, ProjectError> {
    let fail = |problem: String| ProjectError::Target { path: path.into(), problem };
    let mut owners: BTreeMap<Entry, &Write> = BTreeMap::new();
    for write in writes {
        for entry in write.entries() {
            if let Some(first) = owners.insert(entry.clone(), write) {
                return Err(fail(format!(
                    "{entry} is written by both {} and {}: two writers of one entry; give each its own file, \
                     or narrow the targets with apps, envs or images",
                    first.owner(),
                    write.owner()
                )));
            }
        }
    }
    let mut images = BTreeMap::new();
    let mut fields = BTreeMap::new();
    let mut keys = Vec::new();
    for write in writes {
        match (&write.values, write.kind) {
            (Values::Images(wanted), TargetKind::ImageField) => fields.extend(wanted.clone()),
            (Values::Images(wanted), _) => images.extend(wanted.clone()),
            (Values::Keys(set), _) => keys.extend(set.iter().cloned()),
        }
    }
    let mut out = text.to_string();
    if !images.is_empty() {
        out = overlay::apply(&out, &images).map_err(fail)?;
    }
    if !fields.is_empty() {
        out = image_field::apply(&out, &fields).map_err(fail)?;
    }
    if !keys.is_empty() {
        out = values::apply(&out, &keys).map_err(fail)?;
    }
    // Each editor checks its own values; only writers sharing a file can undo each other.
    let shared = writes.len() > 1;
    if let Some(undone) = writes.iter().filter(|_| shared).flat_map(|w| differences(w, &out)).next() {
        return Err(fail(format!("the targets overlap: after every edit, {undone}; give each target its own entries")));
    }
    Ok(out)
}

/// How `text` differs from what `write` sets, as messages (empty: it holds).
pub fn differences(write: &Write, text: &str) -> Vec<String> {
    let (app, env) = (&write.app, &write.env);
    let unreadable = |problem: String| vec![format!("cannot be read as YAML ({problem})")];
    let mut out = Vec::new();
    match (&write.values, write.kind) {
        (Values::Images(wanted), TargetKind::ImageField) => {
            let found = match image_field::read(text) {
                Ok(found) => found,
                Err(problem) => return unreadable(problem),
            };
            for (name, want) in wanted {
                let reference = image_field::reference(name, want);
                match found.get(name).map(Vec::as_slice) {
                    None | Some([]) => out.push(format!(
                        "has no image: field for {name}, which the ledger says {app} runs in {env} as {}; \
                         add one (the ledger never invents structure), or narrow the target with images",
                        short_reference(&reference)
                    )),
                    Some(values) => {
                        for value in values.iter().filter(|v| **v != reference) {
                            out.push(format!(
                                "has image: {value} but the ledger says {app} runs {reference} in {env}: \
                                 an edit behind the ledger's back; run `gitops-ledger project` to restore it, or promote what you meant"
                            ));
                        }
                    }
                }
            }
        }
        (Values::Images(wanted), _) => {
            let found = match overlay::read_images(text) {
                Ok(found) => found,
                Err(problem) => return unreadable(problem),
            };
            for (name, want) in wanted {
                out.extend(images_entry_difference(name, want, found.get(name), app, env));
            }
        }
        (Values::Keys(set), _) => {
            for (path, value) in set {
                match values::read(text, path) {
                    Err(problem) => return unreadable(problem),
                    Ok(None) => out.push(format!(
                        "has no key {path}, which the ledger sets to {value:?} for {app} in {env}; run `gitops-ledger project`"
                    )),
                    Ok(Some(found)) if &found != value => out.push(format!(
                        "has {path}: {found:?} but the ledger says {value:?} for {app} in {env}: \
                         an edit behind the ledger's back; run `gitops-ledger project` to restore it, or promote what you meant"
                    )),
                    Ok(Some(_)) => {}
                }
            }
        }
    }
    out
}

/// What the entries `write` owns hold in `text`, for comparing two versions
/// of a file; None when the file cannot be read.
pub fn observed(write: &Write, text: &str) -> Option<Vec<(Entry, String)>> {
    Some(match (&write.values, write.kind) {
        (Values::Images(wanted), TargetKind::ImageField) => {
            let found = image_field::read(text).ok()?;
            wanted.keys().map(|name| (Entry::ImageField(name.clone()), format!("{:?}", found.get(name)))).collect()
        }
        (Values::Images(wanted), _) => {
            let found = overlay::read_images(text).ok()?;
            wanted.keys().map(|name| (Entry::ImagesEntry(name.clone()), format!("{:?}", found.get(name)))).collect()
        }
        (Values::Keys(set), _) => set
            .iter()
            .map(|(path, _)| Some((Entry::Key(path.clone()), format!("{:?}", values::read(text, path).ok()?))))
            .collect::<Option<_>>()?,
    })
}

fn images_entry_difference(
    name: &str,
    want: &WantedImage,
    found: Option<&FoundImage>,
    app: &Name,
    env: &Name,
) -> Option<String> {
    let Some(FoundImage { digest, tag }) = found else {
        return Some(format!(
            "has no images entry for {name}, which the ledger says {app} runs in {env} at {}; run `gitops-ledger project`",
            short(&want.digest)
        ));
    };
    if digest.as_deref() == Some(want.digest.as_str()) && tag == &want.tag {
        return None;
    }
    // Short digests, unless the two sides share their short form.
    let full = digest.as_deref().is_some_and(|d| short(d) == short(&want.digest) && d != want.digest);
    let describe = |tag: &Option<String>, digest: Option<&str>| {
        let digest = match digest {
            None => "no digest".to_string(),
            Some(d) if full => d.to_string(),
            Some(d) => short(d),
        };
        match tag {
            Some(tag) => format!("{tag} {digest}"),
            None => digest,
        }
    };
    Some(format!(
        "{name} is set to {} but the ledger says {app} runs {} in {env}: an edit behind the ledger's back; \
         run `gitops-ledger project` to restore it, or promote what you meant",
        describe(tag, digest.as_deref()),
        describe(&want.tag, Some(&want.digest))
    ))
}

/// `sha256:` and 12 hex digits, as people read digests.
fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}

/// A reference with its digest cut to the short form.
fn short_reference(reference: &str) -> String {
    match reference.split_once('@') {
        Some((name, digest)) => format!("{name}@{}", short(digest)),
        None => reference.to_string(),
    }
}

/// Everything of the kind `target` writes that `text` holds, whoever's it
/// is, for telling whether a file's image values changed; None when the file
/// holds none or cannot be read.
pub fn values_read(target: &Target, text: &str) -> Option<String> {
    let read = match (target.kind(), &target.set) {
        (TargetKind::ImageField, _) => image_field::read(text).ok().map(|found| format!("{found:?}")),
        (TargetKind::Yaml, Some(set)) => {
            let found: Vec<Option<String>> = set
                .keys()
                .map(|key| KeyPath::parse(key).ok().and_then(|path| values::read(text, &path).ok().flatten()))
                .collect();
            found.iter().any(Option::is_some).then(|| format!("{found:?}"))
        }
        _ => overlay::read_images(text).ok().filter(|found| !found.is_empty()).map(|found| format!("{found:?}")),
    };
    read.filter(|r| r != "{}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::AppHistory;
    use crate::clock::Timestamp;
    use crate::ledger::RecordFile;
    use crate::record::{record_path, Digest, Image, ImageName, Kind, Record, RECORD_SCHEMA};
    use crate::rules::Policies;

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    /// The template's dev, staging and production, projected by `targets`.
    fn policy(targets: serde_json::Value) -> Policy {
        let at = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
        let mut policy = crate::policy::template(BTreeMap::new(), Vec::new(), &[], at).unwrap();
        policy.overlay = crate::policy::Overlay::Absent;
        policy.targets = Some(serde_json::from_value(targets).unwrap());
        policy
    }

    /// `app` folded from `records` records of dev (unsigned, so pending: a
    /// record the app has, whatever became of it).
    fn state(app: &str, records: u64) -> AppView {
        let files: Vec<RecordFile> = (1..=records)
            .map(|seq| {
                let record = Record {
                    schema: RECORD_SCHEMA.into(),
                    app: name(app),
                    seq,
                    prev: None,
                    policy: 1,
                    env: name("dev"),
                    from: None,
                    kind: Kind::Promote,
                    approves: None,
                    images: vec![Image {
                        name: ImageName::parse(&format!("ghcr.io/o/{app}")).unwrap(),
                        digest: Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap(),
                        tag: None,
                    }],
                    evidence: None,
                    override_: None,
                    at: Timestamp::parse("2026-11-02T00:00:00Z").unwrap(),
                    reason: None,
                    signatures: Vec::new(),
                };
                RecordFile::new(record_path(&record.app, seq), record).unwrap()
            })
            .collect();
        AppView::of(&name(app), &AppHistory::of(&files, Policies(&[])), Policies(&[]))
    }

    #[test]
    fn an_app_manages_its_files_from_its_first_record_on() {
        let policy = policy(serde_json::json!([
            { "path": "apps/{app}/overlays/{env}/kustomization.yaml" },
            { "path": "env/{env}/workloads.yaml", "kind": "image-field", "envs": ["production"] },
            { "path": "charts/{app}/values-{env}.yaml", "kind": "yaml", "apps": ["web"], "set": { "image.tag": "{tag}" } },
        ]));
        let paths = |state: &AppView| -> Vec<String> {
            managed_files(&policy, state).into_iter().map(|f| format!("{} {} {}", f.app, f.env, f.path)).collect()
        };
        assert_eq!(
            paths(&state("api", 0)),
            Vec::<String>::new(),
            "no records: adopting, the files are not the ledger's"
        );
        // Every environment of the policy, not only those with records: a
        // file of staging given images by hand is an unbacked change.
        assert_eq!(
            paths(&state("api", 1)),
            [
                "api dev apps/api/overlays/dev/kustomization.yaml",
                "api production apps/api/overlays/production/kustomization.yaml",
                "api production env/production/workloads.yaml",
                "api staging apps/api/overlays/staging/kustomization.yaml",
            ]
        );
        assert_eq!(paths(&state("web", 2)).len(), 7, "web is also served by the values target");
    }
}
