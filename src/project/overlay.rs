//! Setting `images:` entries of a kustomization.yaml, and nothing else.
//!
//! Each entry whose `name` the ledger's state names gets `digest` and
//! `newTag` (the tag of the record that set the digest; removed when it had
//! none), both double-quoted: kustomize reads an unquoted `1.10` or `yes` as
//! a number or boolean. Every other field of the entry (`newName`, ...) stays:
//! a merge, unlike `kustomize edit set image`, which replaces the entry and
//! drops what the team had set there. Missing entries are appended; entries
//! for images the ledger does not name are left alone. Edits are splices into
//! the original bytes, then checked: the result must re-parse to the same
//! document except for the intended values, and every byte outside the
//! `images:` list must be unchanged. Otherwise nothing is written.

use std::collections::BTreeMap;

use super::yaml::{double_quoted, line_end, line_start, parse, Node, Shape};

/// What an entry should say: digest and tag (None: no `newTag`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedImage {
    pub digest: String,
    pub tag: Option<String>,
}

/// An entry as the file has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundImage {
    pub digest: Option<String>,
    pub tag: Option<String>,
}

/// The `images:` entries of a kustomization, by name (the first entry of a name wins, as in kustomize).
pub fn read_images(text: &str) -> Result<BTreeMap<String, FoundImage>, String> {
    let root = parse(text)?;
    let mut found = BTreeMap::new();
    if let Some(Node::Seq { items, .. }) = root.get("images") {
        for item in items {
            if let Some(name) = item.get("name").and_then(Node::scalar) {
                found.entry(name.to_string()).or_insert_with(|| FoundImage {
                    digest: item.get("digest").and_then(Node::scalar).map(str::to_string),
                    tag: item.get("newTag").and_then(Node::scalar).map(str::to_string),
                });
            }
        }
    }
    Ok(found)
}

struct Edit {
    start: usize,
    end: usize,
    text: String,
    /// Among edits at one position, higher goes first in the output.
    order: u8,
}

/// Sets the wanted images in `text`; returns the new text (equal when nothing changes).
pub fn apply(text: &str, wanted: &BTreeMap<String, WantedImage>) -> Result<String, String> {
    let root = parse(text)?;
    let Node::Map { entries: root_entries, flow: root_flow, .. } = &root else {
        return Err("is not a YAML mapping (a kustomization is one)".into());
    };
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let images = root_entries.iter().find(|(k, _)| k.scalar() == Some("images"));
    let mut edits = Vec::new();
    let mut missing: Vec<(&String, &WantedImage)> = wanted.iter().collect();

    match images.map(|(key, value)| (key, value)) {
        None => {
            if *root_flow {
                return Err("is a flow-style mapping without images:; add an images: list to it first".into());
            }
            let mut block = String::new();
            if !text.is_empty() && !text.ends_with('\n') {
                block.push_str(eol);
            }
            block.push_str("images:");
            block.push_str(eol);
            block.push_str(&block_entries(&missing, "", "  ", eol));
            missing.clear();
            edits.push(Edit { start: text.len(), end: text.len(), text: block, order: 0 });
        }
        Some((key, Node::Scalar { value, quoted: false, .. })) if value.is_empty() => {
            let at = line_end(text, key.end());
            let mut block = String::new();
            if at == text.len() && !text.ends_with('\n') {
                block.push_str(eol);
            }
            block.push_str(&block_entries(&missing, "", "  ", eol));
            missing.clear();
            edits.push(Edit { start: at, end: at, text: block, order: 0 });
        }
        Some((_, Node::Seq { items, flow, end, .. })) => {
            for item in items {
                let Some(name) = item.get("name").and_then(Node::scalar) else { continue };
                let Some(position) = missing.iter().position(|(n, _)| n.as_str() == name) else {
                    if wanted.contains_key(name) {
                        return Err(format!("lists image {name} twice; keep one entry"));
                    }
                    continue;
                };
                let (_, want) = missing.remove(position);
                edit_entry(text, item, want, eol, &mut edits)?;
            }
            if !missing.is_empty() {
                if *flow {
                    let close = end - 1;
                    let separator = if items.is_empty() { "" } else { ", " };
                    let entries: Vec<String> = missing.iter().map(|(name, want)| flow_entry(name, want)).collect();
                    edits.push(Edit {
                        start: close,
                        end: close,
                        text: format!("{separator}{}", entries.join(", ")),
                        order: 0,
                    });
                } else {
                    let first = items.first().map_or(0, Node::start);
                    let dash = text[..first].rfind('-').unwrap_or(first);
                    let dash_indent = " ".repeat(dash - line_start(text, dash));
                    let key_gap = " ".repeat(first.saturating_sub(dash + 1).max(1));
                    let at = line_end(text, *end);
                    let mut block = String::new();
                    if at == text.len() && !text.ends_with('\n') {
                        block.push_str(eol);
                    }
                    block.push_str(&block_entries_with(&missing, &dash_indent, &key_gap, eol));
                    edits.push(Edit { start: at, end: at, text: block, order: 0 });
                }
                missing.clear();
            }
        }
        Some(_) => return Err("has an images: key that is not a list".into()),
    }

    edits.sort_by(|a, b| b.start.cmp(&a.start).then(a.order.cmp(&b.order)));
    let mut out = text.to_string();
    for edit in &edits {
        out.replace_range(edit.start..edit.end, &edit.text);
    }
    check(text, &out, &root, wanted)?;
    Ok(out)
}

fn block_entries(missing: &[(&String, &WantedImage)], dash_indent: &str, key_gap: &str, eol: &str) -> String {
    let gap = key_gap.strip_prefix(' ').unwrap_or(key_gap);
    block_entries_with(missing, dash_indent, gap, eol)
}

/// `- name: …` entries: `dash_indent` before the dash, `key_gap` after it.
fn block_entries_with(missing: &[(&String, &WantedImage)], dash_indent: &str, key_gap: &str, eol: &str) -> String {
    let key_indent = format!("{dash_indent} {key_gap}");
    let mut out = String::new();
    for (name, want) in missing {
        out.push_str(&format!("{dash_indent}-{key_gap}name: {name}{eol}"));
        if let Some(tag) = &want.tag {
            out.push_str(&format!("{key_indent}newTag: {}{eol}", double_quoted(tag)));
        }
        out.push_str(&format!("{key_indent}digest: {}{eol}", double_quoted(&want.digest)));
    }
    out
}

fn flow_entry(name: &str, want: &WantedImage) -> String {
    match &want.tag {
        Some(tag) => {
            format!("{{name: {name}, newTag: {}, digest: {}}}", double_quoted(tag), double_quoted(&want.digest))
        }
        None => format!("{{name: {name}, digest: {}}}", double_quoted(&want.digest)),
    }
}

/// Edits one existing entry: set (or add) digest and newTag, or remove newTag.
fn edit_entry(text: &str, item: &Node, want: &WantedImage, eol: &str, edits: &mut Vec<Edit>) -> Result<(), String> {
    let Node::Map { entries, flow, end, .. } = item else {
        return Err("has an images entry that is not a mapping".into());
    };
    let mut additions = Vec::new();
    for (key, value) in [("digest", Some(&want.digest)), ("newTag", want.tag.as_ref())] {
        let existing = entries.iter().enumerate().find(|(_, (k, _))| k.scalar() == Some(key));
        match (existing, value) {
            (Some((_, (_, Node::Scalar { start, end, .. }))), Some(value)) => {
                if text[*start..*end] != double_quoted(value) {
                    edits.push(Edit { start: *start, end: *end, text: double_quoted(value), order: 1 });
                }
            }
            (Some(_), Some(_)) => return Err(format!("has a {key} that is not a plain value")),
            (None, Some(value)) => additions.push(format!("{key}: {}", double_quoted(value))),
            (Some((index, (k, v))), None) => edits.push(removal(text, entries, index, k, v, *flow)?),
            (None, None) => {}
        }
    }
    if additions.is_empty() {
        return Ok(());
    }
    if *flow {
        let close = end - 1;
        let separator = if entries.is_empty() { "" } else { ", " };
        edits.push(Edit { start: close, end: close, text: format!("{separator}{}", additions.join(", ")), order: 1 });
    } else {
        let first_key = entries.first().map_or(item.start(), |(k, _)| k.start());
        let indent = " ".repeat(first_key - line_start(text, first_key));
        let at = line_end(text, *end);
        let mut block = String::new();
        if at == text.len() && !text.ends_with('\n') {
            block.push_str(eol);
        }
        for addition in additions {
            block.push_str(&format!("{indent}{addition}{eol}"));
        }
        edits.push(Edit { start: at, end: at, text: block, order: 1 });
    }
    Ok(())
}

fn removal(
    text: &str,
    entries: &[(Node, Node)],
    index: usize,
    key: &Node,
    value: &Node,
    flow: bool,
) -> Result<Edit, String> {
    if flow {
        let (start, end) = match index.checked_sub(1).and_then(|i| entries.get(i)) {
            Some((_, previous)) => (previous.end(), value.end()),
            None => (key.start(), entries.get(1).map_or(value.end(), |(next, _)| next.start())),
        };
        return Ok(Edit { start, end, text: String::new(), order: 1 });
    }
    let start = line_start(text, key.start());
    if !text[start..key.start()].trim().is_empty() {
        return Err(format!(
            "starts an entry with {}: that line cannot be removed; put name: first in the entry",
            key.scalar().unwrap_or("a key")
        ));
    }
    // A comment after the value outlives it, on a line of its own.
    let end = line_end(text, value.end());
    let kept = text[value.end()..end].find('#').map_or(String::new(), |hash| {
        let comment = &text[value.end() + hash..end];
        format!("{}{comment}", &text[start..key.start()])
    });
    Ok(Edit { start, end, text: kept, order: 1 })
}

/// The safety net: re-parse and compare with what was intended.
fn check(before: &str, after: &str, root: &Node, wanted: &BTreeMap<String, WantedImage>) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("refusing to write: the edit would {why}; this is a bug, please report it"));
    let new_root = parse(after).map_err(|e| format!("refusing to write: the edited file would not parse ({e})"))?;
    let without_images = |node: &Node| match node.shape() {
        Shape::Map(entries) => entries.into_iter().filter(|(k, _)| k != &Shape::Scalar("images".into())).collect(),
        _ => Vec::new(),
    };
    if without_images(root) != without_images(&new_root) {
        return refuse("change more than the images entries");
    }
    let old_items = match root.get("images") {
        Some(Node::Seq { items, .. }) => items.as_slice(),
        _ => &[],
    };
    let Some(Node::Seq { items: new_items, .. }) = new_root.get("images") else {
        return if wanted.is_empty() { Ok(()) } else { refuse("leave no images list") };
    };
    for (index, new_item) in new_items.iter().enumerate() {
        let name = new_item.get("name").and_then(Node::scalar).unwrap_or_default();
        let others = |item: &Node| match item.shape() {
            Shape::Map(entries) => entries
                .into_iter()
                .filter(|(k, _)| k != &Shape::Scalar("digest".into()) && k != &Shape::Scalar("newTag".into()))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        match (old_items.get(index), wanted.get(name)) {
            (Some(old), None) if old.shape() != new_item.shape() => {
                return refuse("change an entry the ledger does not name")
            }
            (Some(old), Some(_)) if others(old) != others(new_item) => {
                return refuse("change other fields of an entry")
            }
            (None, None) => return refuse("add an entry the ledger does not name"),
            _ => {}
        }
        if let Some(want) = wanted.get(name) {
            let digest = new_item.get("digest").and_then(Node::scalar);
            let tag = new_item.get("newTag").and_then(Node::scalar);
            if digest != Some(want.digest.as_str()) || tag != want.tag.as_deref() {
                return refuse("not set the intended digest and tag");
            }
        }
    }
    // Byte-for-byte outside the images list, and no comment lost inside it.
    if let Some(images) = root.get("images") {
        let region_end = line_end(before, images.end());
        if !after.starts_with(&before[..images.start()]) || !after.ends_with(&before[region_end..]) {
            return refuse("change bytes outside the images list");
        }
        let comments = |s: &str| s.matches('#').count();
        let new_region_end = after.len() - (before.len() - region_end);
        if comments(&before[images.start()..region_end]) != comments(&after[images.start()..new_region_end]) {
            return refuse("drop a comment");
        }
    } else if !after.starts_with(before) {
        return refuse("change bytes of the file instead of appending an images list");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(pairs: &[(&str, &str, Option<&str>)]) -> BTreeMap<String, WantedImage> {
        pairs
            .iter()
            .map(|(n, d, t)| (n.to_string(), WantedImage { digest: d.to_string(), tag: t.map(str::to_string) }))
            .collect()
    }

    #[test]
    fn sets_values_in_place_and_keeps_everything_else() {
        let before = "---\n# top\nimages:\n  # the api\n  - name: ghcr.io/o/api # inline\n    newName: mirror.io/o/api\n    newTag: v1 # old\n\n  - {name: other, newTag: 1.10}\nresources: [../../base]\n";
        let after = apply(before, &want(&[("ghcr.io/o/api", "sha256:bb", Some("1.10"))])).unwrap();
        assert_eq!(after, "---\n# top\nimages:\n  # the api\n  - name: ghcr.io/o/api # inline\n    newName: mirror.io/o/api\n    newTag: \"1.10\" # old\n    digest: \"sha256:bb\"\n\n  - {name: other, newTag: 1.10}\nresources: [../../base]\n");
        assert_eq!(apply(&after, &want(&[("ghcr.io/o/api", "sha256:bb", Some("1.10"))])).unwrap(), after, "idempotent");
    }

    #[test]
    fn removes_a_tag_the_record_does_not_have_and_appends_missing_entries() {
        let before = "images:\r\n- name: a\r\n  newTag: old\r\n  digest: sha256:aa\r\nkind: Kustomization\r\n";
        let after = apply(before, &want(&[("a", "sha256:cc", None), ("b", "sha256:dd", Some("v2"))])).unwrap();
        assert_eq!(after, "images:\r\n- name: a\r\n  digest: \"sha256:cc\"\r\n- name: b\r\n  newTag: \"v2\"\r\n  digest: \"sha256:dd\"\r\nkind: Kustomization\r\n");
    }

    #[test]
    fn flow_entries_are_edited_as_flow() {
        let before = "images: [{name: a, newTag: b}]\n";
        let after = apply(before, &want(&[("a", "sha256:ee", None), ("c", "sha256:ff", Some("t"))])).unwrap();
        assert_eq!(
            after,
            "images: [{name: a, digest: \"sha256:ee\"}, {name: c, newTag: \"t\", digest: \"sha256:ff\"}]\n"
        );
    }

    /// Regression: the parser's span for `}` runs on over a trailing comment,
    /// which put the new digest inside the comment.
    #[test]
    fn flow_entry_followed_by_a_comment_gets_the_digest_inside_its_braces() {
        let before = "images:\n  - {name: w, newTag: old}   # flow style\n  - name: b\n";
        let after = apply(before, &want(&[("w", "sha256:bb", None)])).unwrap();
        assert_eq!(after, "images:\n  - {name: w, digest: \"sha256:bb\"}   # flow style\n  - name: b\n");
    }

    #[test]
    fn a_file_without_images_gets_a_list_appended() {
        let after = apply("resources:\n- ../../base", &want(&[("a", "sha256:11", None)])).unwrap();
        assert_eq!(after, "resources:\n- ../../base\nimages:\n- name: a\n  digest: \"sha256:11\"\n");
    }

    #[test]
    fn reads_the_first_entry_of_each_name() {
        let found = read_images("images:\n- name: a\n  digest: sha256:1\n- name: a\n  digest: sha256:2\n").unwrap();
        assert_eq!(found["a"].digest.as_deref(), Some("sha256:1"));
    }

    /// Regression (issue 12): promoting an untagged digest over an entry
    /// whose `newTag:` line had a trailing comment was refused as "the edit
    /// would drop a comment; this is a bug". The comment stays, on its own line.
    #[test]
    fn untagged_promotion_over_a_commented_new_tag_keeps_the_comment() {
        let before =
            "images:\n  - name: ghcr.io/o/api\n    newTag: \"1.9\"   # pinned by hand\n    digest: \"sha256:aa\"\n";
        let after = apply(before, &want(&[("ghcr.io/o/api", "sha256:bb", None)])).unwrap();
        assert_eq!(after, "images:\n  - name: ghcr.io/o/api\n    # pinned by hand\n    digest: \"sha256:bb\"\n");
        assert_eq!(apply(&after, &want(&[("ghcr.io/o/api", "sha256:bb", None)])).unwrap(), after, "idempotent");
    }
}
