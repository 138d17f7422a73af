//! Setting the `image:` fields of plain YAML manifests (the `image-field`
//! target kind), and nothing else.
//!
//! In every document of the file, each string value of a key named `image`,
//! at any depth, whose repository (the reference without `:tag` and
//! `@digest`, compared as written, as kustomize does) is an image of the
//! state becomes `name[:tag]@digest`, double-quoted. Other `image:` values
//! stay. An image of the state that appears in no such field is an error:
//! the ledger never invents structure. Edits are splices of the values'
//! own bytes, so comments, CRLF line endings and `---` separators stay; the
//! result is then re-parsed and must equal the original except for the
//! intended values. Otherwise nothing is written.
//!
//! What counts as an `image:` value: a scalar, neither a null (`image:` with
//! nothing, `~`, `null`) nor a `|`/`>` block scalar (the projector refuses
//! to edit one it would have to set: it asks for one line instead). Aliases,
//! mappings and lists under `image` are not values.

use std::collections::BTreeMap;

use super::overlay::WantedImage;
use super::yaml::{content_start, double_quoted, parse_documents, Node, Shape};

/// The reference the projector writes: `name[:tag]@digest`.
pub fn reference(name: &str, want: &WantedImage) -> String {
    match &want.tag {
        Some(tag) => format!("{name}:{tag}@{}", want.digest),
        None => format!("{name}@{}", want.digest),
    }
}

/// The repository of a reference: without `@digest` and without a `:tag`
/// (a colon after the last `/`; a registry port `host:5000/x` is not a tag).
pub fn repository(reference: &str) -> &str {
    let name = reference.split_once('@').map_or(reference, |(name, _)| name);
    let last_part = name.rfind('/').map_or(0, |slash| slash + 1);
    match name.get(last_part..).and_then(|part| part.find(':')) {
        Some(colon) => name.get(..last_part + colon).unwrap_or(name),
        None => name,
    }
}

/// A value of an `image:` key as the file has it.
struct Field<'a> {
    node: &'a Node,
    value: &'a str,
    block: bool,
}

/// Every `image:` value of `node`, in file order.
fn fields<'a>(node: &'a Node, out: &mut Vec<Field<'a>>) {
    match node {
        Node::Map { entries, .. } => {
            for (key, value) in entries {
                fields(key, out);
                if key.scalar() == Some("image") {
                    if let Node::Scalar { value: text, quoted, block, .. } = value {
                        let null = !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                        if !null {
                            out.push(Field { node: value, value: text, block: *block });
                        }
                    }
                }
                fields(value, out);
            }
        }
        Node::Seq { items, .. } => items.iter().for_each(|item| fields(item, out)),
        Node::Scalar { .. } | Node::Other { .. } => {}
    }
}

fn all_fields(documents: &[Node]) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    for document in documents {
        fields(document, &mut out);
    }
    out
}

/// Every string `image:` value in the file, grouped by repository, as
/// written (unquoted value), in file order. Block scalars are left out.
pub fn read(text: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let documents = parse_documents(text)?;
    Ok(group(&all_fields(&documents)))
}

fn group(fields: &[Field]) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for field in fields.iter().filter(|f| !f.block) {
        found.entry(repository(field.value).to_string()).or_default().push(field.value.to_string());
    }
    found
}

struct Edit {
    /// The scalar node's start, as the parser has it (properties included).
    node: usize,
    start: usize,
    end: usize,
    value: String,
}

/// Sets every `image:` value whose repository is a key of `wanted` to
/// `name[:tag]@digest`, double-quoted. Returns the new text (equal to `text`
/// when nothing changes).
pub fn apply(text: &str, wanted: &BTreeMap<String, WantedImage>) -> Result<String, String> {
    for (name, want) in wanted {
        let written = reference(name, want);
        if repository(&written) != name {
            return Err(format!("cannot set {name} to {written}: that reference would not read back as {name}"));
        }
    }
    let documents = parse_documents(text)?;
    let found = all_fields(&documents);
    let mut edits = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for field in &found {
        let name = if field.block { repository(field.value.trim()) } else { repository(field.value) };
        let Some(want) = wanted.get(name) else { continue };
        if field.block {
            return Err(format!(
                "has an image: field for {name} written as a block scalar (| or >); write it on one line"
            ));
        }
        seen.insert(name);
        let value = reference(name, want);
        let replacement = double_quoted(&value);
        let (node, end) = (field.node.start(), field.node.end());
        let start = content_start(text, node, end);
        if text.get(start..end) != Some(replacement.as_str()) {
            edits.push(Edit { node, start, end, value });
        }
    }
    let missing: Vec<&str> = wanted.keys().map(String::as_str).filter(|name| !seen.contains(name)).collect();
    if !missing.is_empty() {
        let (names, it) = match missing.as_slice() {
            [one] => (one.to_string(), "it"),
            many => (many.join(", "), "each"),
        };
        return Err(format!(
            "has no image: field for {names}: the ledger never invents structure; \
             add an image: field for {it}, or narrow the target with `images`"
        ));
    }
    if edits.is_empty() {
        return Ok(text.to_string());
    }

    let refuse = |why: &str| format!("refusing to write: the edit would {why}; this is a bug, please report it");
    edits.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(text.len() + edits.len() * 80);
    let mut copied = 0;
    for edit in &edits {
        let kept = text.get(copied..edit.start).ok_or_else(|| refuse("overlap or split a character"))?;
        out.push_str(kept);
        out.push_str(&double_quoted(&edit.value));
        copied = edit.end;
    }
    out.push_str(text.get(copied..).ok_or_else(|| refuse("split a character"))?);
    check(&documents, &out, &edits, wanted).map_err(|why| refuse(&why))?;
    Ok(out)
}

/// `node`'s shape with the edited scalars (by start) holding their new values.
fn edited_shape(node: &Node, edits: &BTreeMap<usize, &str>) -> Shape {
    match node {
        Node::Scalar { start, value, .. } => {
            Shape::Scalar(edits.get(start).map_or_else(|| value.clone(), |new| new.to_string()))
        }
        Node::Seq { items, .. } => Shape::Seq(items.iter().map(|item| edited_shape(item, edits)).collect()),
        Node::Map { entries, .. } => {
            Shape::Map(entries.iter().map(|(k, v)| (edited_shape(k, edits), edited_shape(v, edits))).collect())
        }
        Node::Other { .. } => Shape::Other,
    }
}

/// The safety net: re-parse and compare with what was intended. Errors say
/// what the edit would have done.
fn check(before: &[Node], after: &str, edits: &[Edit], wanted: &BTreeMap<String, WantedImage>) -> Result<(), String> {
    let documents = parse_documents(after).map_err(|e| format!("leave a file that does not parse ({e})"))?;
    if documents.len() != before.len() {
        return Err(format!("turn {} YAML documents into {}", before.len(), documents.len()));
    }
    let by_start: BTreeMap<usize, &str> = edits.iter().map(|e| (e.node, e.value.as_str())).collect();
    if by_start.len() != edits.len() {
        return Err("edit one value twice".into());
    }
    for (old, new) in before.iter().zip(&documents) {
        if edited_shape(old, &by_start) != new.shape() {
            return Err("change more than the image: values it sets".into());
        }
    }
    let found = group(&all_fields(&documents));
    for (name, want) in wanted {
        let expected = reference(name, want);
        match found.get(name) {
            Some(values) if !values.is_empty() && values.iter().all(|v| *v == expected) => {}
            _ => return Err(format!("not set every image: field for {name} to {expected}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn want(pairs: &[(&str, &str, Option<&str>)]) -> BTreeMap<String, WantedImage> {
        pairs
            .iter()
            .map(|(n, d, t)| (n.to_string(), WantedImage { digest: d.to_string(), tag: t.map(str::to_string) }))
            .collect()
    }

    /// `apply`, then checks that applying again changes nothing.
    fn apply_twice(text: &str, wanted: &BTreeMap<String, WantedImage>) -> String {
        let once = apply(text, wanted).unwrap();
        assert_eq!(apply(&once, wanted).unwrap(), once, "idempotent");
        once
    }

    #[test]
    fn sets_a_deployment_patch_and_keeps_the_comment_after_the_value() {
        let before = "# version.yml for qa\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: simple-deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: webserver-simple\n        image: docker.io/kostiscodefresh/simple-env-app:2.0   # bumped by CI\n        env:\n        - name: UI_THEME\n          value: dark\n";
        let after = apply_twice(before, &want(&[("docker.io/kostiscodefresh/simple-env-app", A, Some("2.1"))]));
        assert_eq!(after, format!("# version.yml for qa\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: simple-deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: webserver-simple\n        image: \"docker.io/kostiscodefresh/simple-env-app:2.1@{A}\"   # bumped by CI\n        env:\n        - name: UI_THEME\n          value: dark\n"));
    }

    #[test]
    fn every_document_with_crlf_and_separators() {
        let before = "---\r\n# first\r\nkind: Deployment\r\nspec:\r\n  containers:\r\n  - image: ghcr.io/o/api:1.0 # one\r\n---\r\n---\r\nkind: CronJob\r\nspec:\r\n  containers:\r\n  - name: job\r\n    image: 'ghcr.io/o/api'\r\n...\r\n";
        let after = apply_twice(before, &want(&[("ghcr.io/o/api", A, None)]));
        assert_eq!(after, format!("---\r\n# first\r\nkind: Deployment\r\nspec:\r\n  containers:\r\n  - image: \"ghcr.io/o/api@{A}\" # one\r\n---\r\n---\r\nkind: CronJob\r\nspec:\r\n  containers:\r\n  - name: job\r\n    image: \"ghcr.io/o/api@{A}\"\r\n...\r\n"));
    }

    #[test]
    fn init_containers_and_containers_with_the_same_image_are_both_set() {
        let before = "spec:\n  initContainers:\n  - name: migrate\n    image: ghcr.io/o/api:1.0\n  containers:\n  - name: api\n    image: ghcr.io/o/api:1.0\n  - name: sidecar\n    image: envoyproxy/envoy:v1.30\n";
        let after = apply_twice(before, &want(&[("ghcr.io/o/api", A, Some("1.1"))]));
        assert_eq!(after, format!("spec:\n  initContainers:\n  - name: migrate\n    image: \"ghcr.io/o/api:1.1@{A}\"\n  containers:\n  - name: api\n    image: \"ghcr.io/o/api:1.1@{A}\"\n  - name: sidecar\n    image: envoyproxy/envoy:v1.30\n"));
        let found = read(&after).unwrap();
        assert_eq!(found["ghcr.io/o/api"], vec![format!("ghcr.io/o/api:1.1@{A}"); 2]);
        assert_eq!(found["envoyproxy/envoy"], vec!["envoyproxy/envoy:v1.30".to_string()]);
    }

    #[test]
    fn other_images_and_other_keys_are_untouched() {
        let before = "containers:\n- image: ghcr.io/o/api-worker:1\n  args: [ghcr.io/o/api]\n  imageName: ghcr.io/o/api\n  env: {image: ghcr.io/o/apix}\n- image: ghcr.io/o/api\n";
        let after = apply_twice(before, &want(&[("ghcr.io/o/api", B, None)]));
        assert_eq!(after, format!("containers:\n- image: ghcr.io/o/api-worker:1\n  args: [ghcr.io/o/api]\n  imageName: ghcr.io/o/api\n  env: {{image: ghcr.io/o/apix}}\n- image: \"ghcr.io/o/api@{B}\"\n"));
    }

    #[test]
    fn a_tag_is_written_when_the_record_had_one_and_dropped_when_not() {
        let before = "a:\n  image: app:1.0\nb:\n  image: other:2\n";
        let after = apply_twice(before, &want(&[("app", A, None), ("other", B, Some("3"))]));
        assert_eq!(after, format!("a:\n  image: \"app@{A}\"\nb:\n  image: \"other:3@{B}\"\n"));
    }

    #[test]
    fn a_registry_port_is_not_a_tag() {
        assert_eq!(repository("localhost:5000/app:1.0"), "localhost:5000/app");
        assert_eq!(repository("localhost:5000/app"), "localhost:5000/app");
        assert_eq!(repository("localhost:5000/app:1.0@sha256:cc"), "localhost:5000/app");
        let before = "image: localhost:5000/app:1.0\n";
        let after = apply_twice(before, &want(&[("localhost:5000/app", A, Some("1.1"))]));
        assert_eq!(after, format!("image: \"localhost:5000/app:1.1@{A}\"\n"));
        assert!(apply(before, &want(&[("localhost", A, None)])).unwrap_err().contains("no image: field for localhost"));
    }

    #[test]
    fn an_existing_digest_is_replaced() {
        assert_eq!(repository(&format!("ghcr.io/o/api@{A}")), "ghcr.io/o/api");
        let before = format!("image: ghcr.io/o/api:1.0@{A}\nsidecar:\n  image: \"ghcr.io/o/api@{A}\"\n");
        let after = apply_twice(&before, &want(&[("ghcr.io/o/api", B, Some("1.1"))]));
        assert_eq!(after, format!("image: \"ghcr.io/o/api:1.1@{B}\"\nsidecar:\n  image: \"ghcr.io/o/api:1.1@{B}\"\n"));
    }

    #[test]
    fn flow_mappings_are_edited_in_place() {
        let before = "containers: [{name: a, image: ghcr.io/o/api:1}, {name: b, image: x}]  # flow\n";
        let after = apply_twice(before, &want(&[("ghcr.io/o/api", A, Some("2"))]));
        assert_eq!(
            after,
            format!("containers: [{{name: a, image: \"ghcr.io/o/api:2@{A}\"}}, {{name: b, image: x}}]  # flow\n")
        );
    }

    #[test]
    fn quoted_values_become_double_quoted() {
        let before = "- image: 'ghcr.io/o/api:1'   # single\n- image: \"ghcr.io/o/api:1\" # double\n- image: \"ghcr.io/o/api@sha256:old\"\n";
        let after = apply_twice(before, &want(&[("ghcr.io/o/api", A, None)]));
        assert_eq!(after, format!("- image: \"ghcr.io/o/api@{A}\"   # single\n- image: \"ghcr.io/o/api@{A}\" # double\n- image: \"ghcr.io/o/api@{A}\"\n"));
    }

    #[test]
    fn a_wanted_image_in_no_field_is_an_error_naming_it() {
        let before = "containers:\n- image: ghcr.io/o/api:1\n- image:\n";
        let err = apply(before, &want(&[("ghcr.io/o/api", A, None), ("ghcr.io/o/worker", B, None)])).unwrap_err();
        assert_eq!(err, "has no image: field for ghcr.io/o/worker: the ledger never invents structure; add an image: field for it, or narrow the target with `images`");
        let err = apply("image:\n", &want(&[("ghcr.io/o/api", A, None)])).unwrap_err();
        assert!(err.contains("no image: field for ghcr.io/o/api"), "{err}");
    }

    #[test]
    fn nothing_to_change_returns_the_text_as_it_is() {
        let before = format!("# c\r\nimage: \"ghcr.io/o/api@{A}\"  \r\n");
        assert_eq!(apply(&before, &want(&[("ghcr.io/o/api", A, None)])).unwrap(), before);
        assert!(!apply("not: [yaml\n", &BTreeMap::new()).unwrap_err().is_empty());
        assert_eq!(apply("", &BTreeMap::new()).unwrap(), "");
    }

    #[test]
    fn a_block_scalar_for_a_wanted_image_is_refused() {
        let before = "image: |\n  ghcr.io/o/api:1\n";
        let err = apply(before, &want(&[("ghcr.io/o/api", A, None)])).unwrap_err();
        assert!(err.contains("write it on one line"), "{err}");
        assert!(apply(before, &want(&[("other", A, None)])).unwrap_err().contains("no image: field for other"));
        assert!(read(before).unwrap().is_empty());
    }

    #[test]
    fn reads_string_values_only_grouped_by_repository() {
        let text = "a: {image: x:1}\nb:\n  image: ~\nc:\n  image: [x]\nd:\n  image: {name: x}\n---\ne:\n  image: 'x@sha256:1'\n";
        let found = read(text).unwrap();
        assert_eq!(found, BTreeMap::from([("x".to_string(), vec!["x:1".to_string(), "x@sha256:1".to_string()])]));
    }

    #[test]
    fn a_reference_that_would_not_read_back_is_refused_up_front() {
        let err = apply("image: a\n", &want(&[("a", A, Some("v/1"))])).unwrap_err();
        assert!(err.starts_with("cannot set a to a:v/1@"), "{err}");
    }

    /// The parser's span of a scalar starts at its anchor or tag; an edit
    /// that replaced those dropped the anchor an alias elsewhere refers to.
    #[test]
    fn anchors_and_tags_before_a_value_stay() {
        let before = "a:\n  image: !!str &a x:1 # c\nb:\n  image: *a\nc:\n  image: &b\n    x:1\n";
        let after = apply_twice(before, &want(&[("x", A, None)]));
        assert_eq!(
            after,
            format!("a:\n  image: !!str &a \"x@{A}\" # c\nb:\n  image: *a\nc:\n  image: &b\n    \"x@{A}\"\n")
        );
    }

    /// Regression (found by the fuzz target): the span of a plain value
    /// ending in a vertical tab stopped before it, so the edit left the tab
    /// behind the quoted value and was refused as a bug.
    #[test]
    fn fuzz_crash_value_ending_in_a_vertical_tab_is_replaced_whole() {
        let after = apply_twice("image: \u{b}", &want(&[("\u{b}", A, Some("1.10"))]));
        assert_eq!(after, format!("image: \"\\u000b:1.10@{A}\""));
        let after = apply_twice("- image: x\u{a0} # c\n", &want(&[("x\u{a0}", A, None)]));
        assert_eq!(after, format!("- image: \"x\u{a0}@{A}\" # c\n"));
    }

    #[test]
    fn odd_characters_are_escaped_in_the_written_value() {
        let before = "image: 'a\"b\\\u{feff}\u{2028}'\n";
        let name = "a\"b\\\u{feff}\u{2028}";
        let after = apply_twice(before, &want(&[(name, A, Some("t\u{85}"))]));
        assert_eq!(after, format!("image: \"a\\\"b\\\\\\ufeff\\u2028:t\\u0085@{A}\"\n"));
        assert_eq!(read(&after).unwrap()[name], vec![reference(name, &want(&[(name, A, Some("t\u{85}"))])[name])]);
    }
}
