//! Setting values at dotted key paths of a YAML file (the `yaml` projection
//! target kind, e.g. a Helm values file), and nothing else.
//!
//! Each path (`image.tag`, `sidecars[0].image`) names a scalar; it gets its
//! value double-quoted (Helm reads an unquoted `1.10` as a number). Every
//! parent along a path must exist; a missing last key is appended to its
//! mapping. Edits are splices into the original bytes — comments, blank
//! lines, quoting elsewhere and CRLF line endings stay as they are — then
//! checked: the result must re-parse to the same document except for the
//! values set, and each path must read back its value. Otherwise nothing is
//! written.

use std::fmt;

use super::yaml::{double_quoted, line_end, line_start, parse_documents, Node, Shape};

/// A dotted key path: `image.tag`, `sidecars[0].image`, `a.b[2][0].c`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath {
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Key(String),
    Index(usize),
}

impl KeyPath {
    /// Err(message) for an empty path, an empty key (`a..b`, leading/trailing
    /// dot), a bad index (`a[x]`, `a[`), or a path starting with an index.
    /// Keys are any non-empty text without `.`, `[`, `]`.
    pub fn parse(text: &str) -> Result<KeyPath, String> {
        let bad = |why: &str| Err(format!("bad key path {text:?}: {why}"));
        if text.is_empty() {
            return bad("it is empty");
        }
        if text.starts_with('[') {
            return bad("it starts with an index; a path starts with a key, like `list[0]`");
        }
        let mut steps = Vec::new();
        let mut rest = text;
        // Where we are: a key must follow (at the start and after a dot).
        let mut want_key = true;
        while !rest.is_empty() || want_key {
            if want_key {
                let len = rest.find(['.', '[', ']']).unwrap_or(rest.len());
                let (key, after) = rest.split_at_checked(len).unwrap_or((rest, ""));
                if key.is_empty() {
                    return if after.starts_with(']') {
                        bad("it has a `]` without its `[`")
                    } else {
                        bad("it has an empty key (two dots in a row, or a dot at an end)")
                    };
                }
                steps.push(Step::Key(key.to_string()));
                rest = after;
                want_key = false;
            } else if let Some(after) = rest.strip_prefix('.') {
                rest = after;
                want_key = true;
            } else if let Some(after) = rest.strip_prefix('[') {
                let Some(close) = after.find(']') else { return bad("it has a `[` without its `]`") };
                let (digits, after) = after.split_at_checked(close).unwrap_or((after, ""));
                let canonical = !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'));
                let index = if canonical { digits.parse::<usize>().ok() } else { None };
                let Some(index) = index else {
                    return bad(&format!("[{digits}] is not an index; write a number like [0]"));
                };
                steps.push(Step::Index(index));
                rest = after.get(1..).unwrap_or_default();
            } else if rest.starts_with(']') {
                return bad("it has a `]` without its `[`");
            } else {
                return bad("a `]` must be followed by `.`, `[` or the end");
            }
        }
        Ok(KeyPath { steps })
    }

    /// The path of the first `len` steps, for messages.
    fn prefix(&self, len: usize) -> KeyPath {
        KeyPath { steps: self.steps.iter().take(len).cloned().collect() }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Key(key) if i == 0 => write!(f, "{key}")?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The file's one document.
fn parse_one(text: &str) -> Result<Node, String> {
    let mut documents = parse_documents(text)?;
    if documents.len() > 1 {
        return Err(format!("holds {} YAML documents; a values file is one", documents.len()));
    }
    documents.pop().ok_or_else(|| "is empty".to_string())
}

/// What a node is, for messages.
fn describe(node: &Node) -> &'static str {
    match node {
        Node::Scalar { value, quoted: false, .. } if value.is_empty() => "empty (null)",
        Node::Scalar { .. } => "a single value",
        Node::Seq { .. } => "a list",
        Node::Map { .. } => "a mapping",
        Node::Other { .. } => "an alias",
    }
}

/// The text naming the first `len` steps of `path` in a message.
fn name_of(path: &KeyPath, len: usize) -> String {
    if len == 0 {
        "the top level".to_string()
    } else {
        path.prefix(len).to_string()
    }
}

/// The node at `path`: None when a key is missing or an index is past the end.
fn lookup<'a>(root: &'a Node, path: &KeyPath) -> Result<Option<&'a Node>, String> {
    let mut node = root;
    for (i, step) in path.steps.iter().enumerate() {
        let next = match (step, node) {
            (Step::Key(key), Node::Map { .. }) => node.get(key),
            (Step::Index(index), Node::Seq { items, .. }) => items.get(*index),
            (Step::Key(_), _) => {
                return Err(format!("cannot read {path}: {} is {}, not a mapping", name_of(path, i), describe(node)));
            }
            (Step::Index(_), _) => {
                return Err(format!("cannot read {path}: {} is {}, not a list", name_of(path, i), describe(node)));
            }
        };
        match next {
            Some(next) => node = next,
            None => return Ok(None),
        }
    }
    Ok(Some(node))
}

/// The scalar value at `path` (unquoted; `""` for an empty value); Ok(None)
/// when a key along it is missing or an index is past the end of its list.
/// Err for a file that does not parse, a path through a non-collection, or a
/// path to a mapping, list or alias.
pub fn read(text: &str, path: &KeyPath) -> Result<Option<String>, String> {
    let root = parse_one(text)?;
    match lookup(&root, path)? {
        None => Ok(None),
        Some(Node::Scalar { value, .. }) => Ok(Some(value.clone())),
        Some(node) => Err(format!("cannot read {path}: it is {}, not a single value", describe(node))),
    }
}

/// One splice into the original text.
struct Edit {
    start: usize,
    end: usize,
    text: String,
    /// 0: a value set in place; 1: a key appended. At one position, values come first.
    class: u8,
    /// For appends: how deep the mapping is; at one position, deeper goes first.
    depth: usize,
    /// The index in `set`: at one position, earlier goes first.
    index: usize,
}

/// A key to append: plain when YAML (1.1 or 1.2) reads it back as that same
/// string, double-quoted otherwise.
fn key_text(key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/'))
        && !matches!(
            key.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        key.to_string()
    } else {
        double_quoted(key)
    }
}

/// White space to YAML (Rust's `trim` takes more: form feed, NEL, no-break space…).
fn yaml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn blank(text: &str) -> bool {
    text.chars().all(yaml_space)
}

fn byte(text: &str, at: usize) -> Option<u8> {
    text.as_bytes().get(at).copied()
}

fn slice(text: &str, start: usize, end: usize) -> &str {
    text.get(start..end).unwrap_or_default()
}

/// Where the line holding `at` ends, before its line break.
fn content_end(text: &str, at: usize) -> usize {
    let end = line_end(text, at);
    if byte(text, end.wrapping_sub(1)) != Some(b'\n') {
        return end;
    }
    if end >= 2 && byte(text, end - 2) == Some(b'\r') {
        end - 2
    } else {
        end - 1
    }
}

fn skip_blanks(text: &str, mut at: usize) -> usize {
    while matches!(byte(text, at), Some(b' ' | b'\t')) {
        at += 1;
    }
    at
}

/// The `:` after a key: on the key's line, or, after an explicit `? key`,
/// on a later line (past comments) at the column of the `?`.
fn value_colon(text: &str, key: &Node) -> Option<usize> {
    value_colon_after(text, key, extent_end(text, key)?)
}

/// [`value_colon`] for a key whose extent ends at `key_end`.
fn value_colon_after(text: &str, key: &Node, key_end: usize) -> Option<usize> {
    let at = skip_blanks(text, key_end);
    if byte(text, at) == Some(b':') {
        return Some(at);
    }
    // Only a plain key tells where its `?` is (see `entry_start`).
    let mark = entry_start(text, key);
    if mark == key.start() || !matches!(key, Node::Scalar { .. }) {
        return None;
    }
    next_token(text, at)
        .filter(|&at| byte(text, at) == Some(b':') && at - line_start(text, at) == mark - line_start(text, mark))
}

/// The next character at or after `at` that is not white space or in a comment.
fn next_token(text: &str, mut at: usize) -> Option<usize> {
    loop {
        match byte(text, at)? {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'#' => at = line_end(text, at),
            _ => return Some(at),
        }
    }
}

/// Where a mapping entry starts: its key, or the `?` before an explicit
/// key (perhaps lines and comments before it).
fn entry_start(text: &str, key: &Node) -> usize {
    let mut at = key.start();
    loop {
        let line = line_start(text, at);
        let before = slice(text, line, at);
        if blank(before) {
            // The key starts its line: look at the line before, without its comment.
            let Some(previous) = line.checked_sub(1) else { return key.start() };
            let previous_start = line_start(text, previous);
            let content = slice(text, previous_start, previous);
            let comment = content
                .char_indices()
                .find(|&(i, c)| c == '#' && (i == 0 || content.get(..i).is_some_and(|s| s.ends_with([' ', '\t']))));
            at = previous_start + comment.map_or(content.len(), |(i, _)| i);
            continue;
        }
        let trimmed = before.trim_end_matches(yaml_space);
        return match trimmed.strip_suffix('?') {
            Some(indent) if indent.chars().all(|c| matches!(c, ' ' | '\t' | '-')) => line + indent.len(),
            _ => key.start(),
        };
    }
}

/// A character after `end`, in the white space (of any lines) that follows it, that
/// Rust's `trim` takes for white space but YAML for text (form feed, NEL, a
/// no-break space…): a scalar's span, trimmed by `trim_end`, may end before it.
fn odd_tail(text: &str, end: usize) -> Option<char> {
    text.get(end..)?.chars().take_while(|c| c.is_whitespace()).find(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// A plain empty value (null) without an anchor or tag.
fn is_empty_plain(text: &str, node: &Node) -> bool {
    match node {
        Node::Scalar { value, quoted: false, block: false, start, end } if value.is_empty() => {
            !(start < end && matches!(byte(text, *start), Some(b'&' | b'!')))
        }
        _ => false,
    }
}

/// The closing bracket of a flow collection whose parsed span ends at
/// `end`. The parser ends a collection with a trailing comma (`{a: 1, }`)
/// at the comma; the bracket is then further on.
fn flow_close(text: &str, end: usize, close: u8) -> Option<usize> {
    let mut at = end.checked_sub(1)?;
    // A collection the tree took for block ends at its last value's end.
    if !matches!(byte(text, at), Some(b' ' | b'\t' | b'\r' | b'\n' | b',' | b'}' | b']')) {
        at = end;
    }
    loop {
        match byte(text, at)? {
            b if b == close => return Some(at),
            b' ' | b'\t' | b'\r' | b'\n' | b',' => at += 1,
            b'#' => at = line_end(text, at),
            _ => return None,
        }
    }
}

/// Whether a collection is in flow style. The parser's tree says so for a
/// block collection that starts with a flow one (`{a: 1}: b`, `- [a]`); its
/// end is then not at a closing bracket. It says block for a flow one with
/// a tag or anchor (`!t {a: 1}`), whose first entry follows its bracket
/// (when that entry is a collection, the bracket may be its own: taken for
/// block, and left to the safety check).
fn is_flow(text: &str, node: &Node) -> bool {
    let after_bracket = |first: Option<&Node>| match first {
        None => true,
        Some(Node::Map { .. } | Node::Seq { .. }) => false,
        Some(first) => {
            let before = slice(text, 0, first.start()).trim_end_matches(yaml_space);
            let line = slice(text, line_start(text, before.len()), before.len());
            let in_comment = line
                .char_indices()
                .any(|(i, c)| c == '#' && (i == 0 || line.get(..i).is_some_and(|s| s.ends_with([' ', '\t']))));
            before.ends_with(['{', '[']) && !in_comment
        }
    };
    match node {
        Node::Map { flow: true, end, .. } => flow_close(text, *end, b'}').is_some(),
        Node::Seq { flow: true, end, .. } => flow_close(text, *end, b']').is_some(),
        Node::Map { entries, .. } => after_bracket(entries.first().map(|(key, _)| key)),
        Node::Seq { items, .. } => after_bracket(items.first()),
        _ => false,
    }
}

/// Just past a node's last character, trailing brackets included; None
/// when that cannot be told (an empty `?` key with an empty value ending a
/// mapping: the parser places empty nodes at the next token).
fn extent_end(text: &str, node: &Node) -> Option<usize> {
    match node {
        Node::Map { end, .. } if is_flow(text, node) => flow_close(text, *end, b'}').map(|at| at + 1),
        Node::Seq { end, .. } if is_flow(text, node) => flow_close(text, *end, b']').map(|at| at + 1),
        Node::Map { entries, end, .. } => match entries.last() {
            Some((key, value)) if is_empty_plain(text, value) => {
                if is_empty_plain(text, key) {
                    return None;
                }
                // Once: keys nest (`? ? ? a`), and twice a level is exponential.
                let key_end = extent_end(text, key)?;
                if let Some(colon) = value_colon_after(text, key, key_end) {
                    return Some(colon + 1);
                }
                // A `:` after a key that is a collection may be its own or an outer mapping's.
                let colon_follows = next_token(text, key_end).is_some_and(|at| byte(text, at) == Some(b':'));
                (matches!(key, Node::Scalar { .. }) || !colon_follows).then_some(key_end)
            }
            Some((_, value)) => extent_end(text, value),
            None => Some(*end),
        },
        Node::Seq { items, end, .. } => match items.last() {
            Some(item) if is_empty_plain(text, item) => Some(item.start()),
            Some(item) => extent_end(text, item),
            None => Some(*end),
        },
        Node::Scalar { block: true, .. } => Some(block_end(text, node)),
        Node::Scalar { end, .. } | Node::Other { end, .. } => Some(*end),
    }
}

/// The last node a block collection ends with (an explicit `? key` when its value is empty).
fn last_leaf<'a>(text: &str, node: &'a Node) -> &'a Node {
    match node {
        Node::Map { entries, .. } if !is_flow(text, node) => entries.last().map_or(node, |(key, value)| {
            if is_empty_plain(text, value) {
                last_leaf(text, key)
            } else {
                last_leaf(text, value)
            }
        }),
        Node::Seq { items, .. } if !is_flow(text, node) => items.last().map_or(node, |item| last_leaf(text, item)),
        _ => node,
    }
}

/// Where the header line (`|`, `>` and indicators) of a block scalar starts.
fn block_header(text: &str, node: &Node) -> Option<usize> {
    // With no text the scalar's span may start at its header (`k: |` at the
    // end of the file); otherwise, and when it is empty and placed at the
    // next line, its header is the last line before it that is not blank.
    let start = node.start();
    let mut line = line_start(text, start);
    if matches!(byte(text, start), Some(b'|' | b'>')) && !blank(slice(text, line, start)) {
        return Some(line);
    }
    loop {
        line = line_start(text, line.checked_sub(1)?);
        if !blank(slice(text, line, line_end(text, line))) {
            return Some(line);
        }
    }
}

/// Just past a block scalar: its last character, or its header's when it is blank.
fn block_end(text: &str, node: &Node) -> usize {
    if !blank(slice(text, node.start(), node.end())) {
        return node.end();
    }
    block_header(text, node).map_or(node.end(), |line| content_end(text, line))
}

/// Whether the parser's spans hold what it read there: every one-line
/// plain scalar its own text, every quoted one its quotes. (The parser has
/// been seen to misplace every node after a `%` directive with non-ASCII text.)
fn spans_match(text: &str, node: &Node) -> bool {
    match node {
        // Empty ones sit wherever the next token is; a span may have lost
        // text Rust's `trim_end` took for white space (see `odd_tail`).
        Node::Scalar { value, quoted: false, block: false, start, end } => {
            let own = slice(text, *start, *end);
            value.is_empty()
                || own.contains(['\n', '&', '!'])
                || (value.starts_with(own) && (!own.is_empty() || value.trim().is_empty()))
        }
        Node::Scalar { quoted: true, block: false, start, end, .. } => {
            let quote = byte(text, *start);
            matches!(quote, Some(b'"' | b'\'')) && end.checked_sub(1).and_then(|at| byte(text, at)) == quote
                || slice(text, *start, *end).starts_with(['&', '!'])
        }
        Node::Scalar { .. } | Node::Other { .. } => true,
        Node::Seq { items, .. } => items.iter().all(|item| spans_match(text, item)),
        Node::Map { entries, .. } => entries.iter().all(|(k, v)| spans_match(text, k) && spans_match(text, v)),
    }
}

/// What a path leads to in the file.
enum Target<'a> {
    /// An existing value; `key` is its key in a mapping (None: a list item).
    /// `flow`: the outermost flow collection the value is in.
    Value { node: &'a Node, key: Option<&'a Node>, flow: Option<&'a Node> },
    /// A key to add to `map`, at `depth` steps below the top level.
    Missing { map: &'a Node, key: &'a str, depth: usize, in_flow: bool },
}

fn resolve<'a>(text: &str, root: &'a Node, path: &'a KeyPath) -> Result<Target<'a>, String> {
    let fail = |why: String| Err(format!("cannot set {path}: {why}"));
    let mut node = root;
    // Whether `node` sits inside a flow collection.
    let mut in_flow = false;
    let mut outer_flow: Option<&Node> = None;
    let last = path.steps.len().saturating_sub(1);
    for (i, step) in path.steps.iter().enumerate() {
        let parent = name_of(path, i);
        let next = match (step, node) {
            (Step::Key(key), Node::Map { entries, .. }) => {
                let found = entries.iter().find(|(k, _)| k.scalar() == Some(key.as_str()));
                match found {
                    Some((k, v)) if i == last => {
                        let flow = outer_flow.or(is_flow(text, node).then_some(node));
                        return Ok(Target::Value { node: v, key: Some(k), flow });
                    }
                    Some((_, v)) => v,
                    None if i == last => return Ok(Target::Missing { map: node, key, depth: i, in_flow }),
                    None => {
                        return fail(format!(
                            "{} does not exist; every parent along a path must already exist",
                            name_of(path, i + 1)
                        ))
                    }
                }
            }
            (Step::Index(index), Node::Seq { items, .. }) => match items.get(*index) {
                Some(item) if i == last => {
                    let flow = outer_flow.or(is_flow(text, node).then_some(node));
                    return Ok(Target::Value { node: item, key: None, flow });
                }
                Some(item) => item,
                None => {
                    let count = match items.len() {
                        1 => "1 item".to_string(),
                        n => format!("{n} items"),
                    };
                    return fail(format!("{parent} has {count}, so [{index}] is out of range"));
                }
            },
            (Step::Key(_), _) => return fail(format!("{parent} is {}, not a mapping", describe(node))),
            (Step::Index(_), _) => return fail(format!("{parent} is {}, not a list", describe(node))),
        };
        if is_flow(text, node) {
            in_flow = true;
            outer_flow = outer_flow.or(Some(node));
        }
        node = next;
    }
    fail("the path is empty".into())
}

/// Sets each path to its value, double-quoted. Returns the new text (equal
/// to `text` when nothing changes). Err(message for people naming the path)
/// when the file is not one YAML document whose root is a mapping, when a
/// parent along a path is missing or is not a mapping/sequence as the path
/// needs, an index is out of range, the existing value at a path is a
/// mapping or sequence (not a scalar), or the safety check fails.
pub fn apply(text: &str, set: &[(KeyPath, String)]) -> Result<String, String> {
    let root = parse_one(text)?;
    if !matches!(root, Node::Map { .. }) {
        return Err(format!("is {} at the top level, not a mapping (a values file is one)", describe(&root)));
    }
    if !spans_match(text, &root) {
        return Err("cannot be edited safely: the YAML parser places its values where the text does not hold them \
                    (seen after a directive line with non-ASCII text); edit it by hand"
            .into());
    }
    let mut unique: Vec<(&KeyPath, &str)> = Vec::new();
    for (path, value) in set {
        match unique.iter().find(|(p, _)| *p == path) {
            Some((_, earlier)) if *earlier == value.as_str() => {}
            Some((_, earlier)) => return Err(format!("cannot set {path} twice, to {earlier:?} and to {value:?}")),
            None => unique.push((path, value)),
        }
    }
    let mut edits = Vec::new();
    // A value set inside a flow collection that spans lines, for the message
    // should the parser reject the result (see `check`).
    let mut in_multiline_flow = None;
    let mut appended = Vec::new();
    for (index, (path, value)) in unique.iter().enumerate() {
        match resolve(text, &root, path)? {
            Target::Value { node, key, flow } => {
                if let Some(edit) = set_value(text, path, node, key, flow.is_some(), value, index)? {
                    edits.push(edit);
                    let spans_lines =
                        |f: &Node| extent_end(text, f).is_none_or(|end| slice(text, f.start(), end).contains('\n'));
                    if flow.is_some_and(spans_lines) {
                        in_multiline_flow = in_multiline_flow.or(Some(*path));
                    }
                }
            }
            Target::Missing { map, key, depth, in_flow } => {
                // The second key added to a flow mapping follows the first: always after a comma.
                let first = !appended.contains(&map.start());
                appended.push(map.start());
                let append = Append { path, map, key, value, depth, in_flow, index, first };
                edits.push(append_key(text, &append)?)
            }
        }
    }
    let out = splice(text, edits)?;
    check(&out, &root, &unique, in_multiline_flow)?;
    Ok(out)
}

/// The edit setting an existing value (None: it already is `"value"`).
fn set_value(
    text: &str,
    path: &KeyPath,
    node: &Node,
    key: Option<&Node>,
    in_flow: bool,
    value: &str,
    index: usize,
) -> Result<Option<Edit>, String> {
    let fail = |why: &str| Err(format!("cannot set {path}: {why}"));
    let new = double_quoted(value);
    let edit = |start: usize, end: usize, text: String| Ok(Some(Edit { start, end, text, class: 0, depth: 0, index }));
    let (start, end, block) = match node {
        Node::Scalar { start, end, block, .. } => (*start, *end, *block),
        Node::Map { .. } => return fail("it is a mapping, not a single value; name one of its keys"),
        Node::Seq { .. } => return fail("it is a list, not a single value; name one of its items, like [0]"),
        Node::Other { .. } => return fail("it is an alias (*name); set the value where its anchor (&name) is"),
    };
    if let Some(odd) = odd_tail(text, end) {
        return fail(&format!(
            "its text ends in U+{:04X}, white space to Rust but text to YAML; set it by hand",
            u32::from(odd)
        ));
    }
    if block {
        return match key {
            Some(key) => block_edit(text, path, key, node, &new, index),
            None => fail("it is a block scalar (| or >) in a list; replace it with a one-line value by hand first"),
        };
    }
    if is_empty_plain(text, node) {
        return match key {
            Some(key) => {
                match value_colon(text, key) {
                    Some(colon) => {
                        let after = skip_blanks(text, colon + 1);
                        let ends = match byte(text, after) {
                            None | Some(b'\r' | b'\n' | b'#') => true,
                            Some(b',' | b'}' | b']') => in_flow,
                            Some(_) => false,
                        };
                        if !ends {
                            return fail("its empty value cannot be told apart from what follows; write a value there by hand first");
                        }
                        edit(colon + 1, colon + 1, format!(" {new}"))
                    }
                    // `{a, b}`: keys without a colon in a flow mapping.
                    None if in_flow => edit(key.end(), key.end(), format!(": {new}")),
                    None => fail("its key has no `:` to put the value after; write the value there by hand first"),
                }
            }
            None => {
                let dash = slice(text, 0, start).trim_end_matches([' ', '\t']);
                if !in_flow && dash.ends_with('-') {
                    edit(dash.len(), dash.len(), format!(" {new}"))
                } else {
                    fail("it is an empty list item that cannot be located; write a value there by hand first")
                }
            }
        };
    }
    let current = slice(text, start, end);
    if current.starts_with(['&', '!']) {
        // Anchors and tags come before the value, inside its span.
        let properties: Vec<&str> =
            current.split(yaml_space).take_while(|token| token.starts_with(['&', '!'])).collect();
        if let Some(anchor) = properties.iter().find(|p| p.starts_with('&')) {
            return fail(&format!(
                "its value has an anchor ({anchor}) that aliases may share; set it by hand, or remove the anchor"
            ));
        }
        if let Some(tag) = properties.iter().find(|p| **p != "!!str") {
            return fail(&format!("its value has the tag {tag}; set it by hand, or remove the tag"));
        }
    }
    if current == new {
        return Ok(None);
    }
    edit(start, end, new)
}

/// Replaces a `|` or `>` block scalar that is the value of `key` by a
/// double-quoted one; a comment on its header line stays.
fn block_edit(
    text: &str,
    path: &KeyPath,
    key: &Node,
    node: &Node,
    new: &str,
    index: usize,
) -> Result<Option<Edit>, String> {
    let refuse = |why: &str| {
        Err(format!(
            "cannot set {path}: it is a block scalar (| or >) {why}; replace it with a one-line value by hand first"
        ))
    };
    let Some(colon) = value_colon(text, key) else { return refuse("whose key has no `:` to be found") };
    let indicator = skip_blanks(text, colon + 1);
    if !matches!(byte(text, indicator), Some(b'|' | b'>')) {
        return refuse("with an anchor, tag or line break before its `|` or `>`");
    }
    let mut header = indicator + 1;
    while matches!(byte(text, header), Some(b'+' | b'-' | b'0'..=b'9')) {
        header += 1;
    }
    let header_end = content_end(text, header);
    let rest = slice(text, header, header_end);
    let comment = rest.trim_start_matches(yaml_space);
    if !(comment.is_empty() || (comment.starts_with('#') && rest.starts_with([' ', '\t']))) {
        return refuse("with an unusual header line");
    }
    let body_start = line_end(text, header);
    let body_end = node.end();
    let body = if body_end > body_start { slice(text, body_start, body_end) } else { "" };
    let edit = |end: usize, text: String| Ok(Some(Edit { start: indicator, end, text, class: 0, depth: 0, index }));
    if blank(body) {
        return edit(header, new.to_string());
    }
    // Every line of the text being replaced is the scalar's: indented deeper than its key.
    let key_column = slice(text, line_start(text, key.start()), key.start()).chars().count();
    let inside = body.lines().all(|line| {
        let line = line.trim_end_matches('\r');
        blank(line) || line.len() - line.trim_start_matches(' ').len() > key_column
    });
    if node.start() < body_start || !inside {
        return refuse("whose extent is unclear");
    }
    let comment = if comment.is_empty() { "" } else { rest };
    edit(body_end, format!("{new}{comment}"))
}

/// A key to append to a mapping.
#[derive(Clone, Copy)]
struct Append<'a> {
    path: &'a KeyPath,
    map: &'a Node,
    key: &'a str,
    value: &'a str,
    /// Steps below the top level.
    depth: usize,
    /// Whether `map` is inside a flow collection.
    in_flow: bool,
    /// The index in `set`.
    index: usize,
    /// Whether no key was appended to `map` before.
    first: bool,
}

/// The edit appending `key: "value"` to `map`.
fn append_key(text: &str, append: &Append) -> Result<Edit, String> {
    let Append { path, map, key, value, depth, in_flow, index, first } = *append;
    let fail = |why: &str| Err(format!("cannot add {path}: {why}"));
    let key = key_text(key);
    // YAML allows an implicit key of at most 1024 characters.
    if key.chars().count() > 1000 {
        return fail("its key is too long to be written as a YAML key");
    }
    let entry = format!("{key}: {}", double_quoted(value));
    let edit = |at: usize, text: String| Ok(Edit { start: at, end: at, text, class: 1, depth, index });
    let Node::Map { entries, end, .. } = map else { return fail("its parent is not a mapping") };
    if is_flow(text, map) {
        return match entries.last() {
            Some((_, last)) if !is_empty_plain(text, last) => {
                let Some(at) = extent_end(text, last) else {
                    return fail("the end of its flow mapping's last value cannot be told; add the key by hand");
                };
                if odd_tail(text, at).is_some() {
                    return fail("the last value of its flow mapping ends in unusual white space; add the key by hand");
                }
                edit(at, format!(", {entry}"))
            }
            _ => {
                let Some(close) = flow_close(text, *end, b'}') else {
                    return fail("the end of its flow mapping {…} cannot be found");
                };
                let before = slice(text, 0, close).trim_end_matches(yaml_space);
                let separator = match before.chars().last() {
                    _ if !first => ", ",
                    _ if entries.is_empty() => "",
                    Some(',') if before.len() < close => "",
                    Some(',') => " ",
                    _ => ", ",
                };
                edit(close, format!("{separator}{entry}"))
            }
        };
    }
    if in_flow {
        return fail("its parent is a one-entry mapping inside a flow list [a: b]; write it as {a: b} first");
    }
    // The indentation of the mapping's keys, from a one-line key's entry (a
    // key that is itself a collection starts at its first item, perhaps
    // after an explicit `?` of its own; a `|` key at its text; an empty one
    // anywhere).
    let first = entries
        .iter()
        .find(|(k, _)| matches!(k, Node::Scalar { block: false, .. }) && !is_empty_plain(text, k))
        .map(|(k, _)| entry_start(text, k));
    let Some(first) = first else {
        return fail("its parent mapping has no plain key to take the indentation from");
    };
    let prefix = slice(text, line_start(text, first), first);
    if !prefix.chars().all(|c| matches!(c, ' ' | '\t' | '-')) {
        return fail("the indentation of its parent mapping cannot be told");
    }
    let indent = " ".repeat(prefix.chars().count());
    let Some(end) = extent_end(text, map) else {
        return fail("its parent mapping ends in an explicit `?` key whose end cannot be told; add the key by hand");
    };
    if odd_tail(text, end).is_some() {
        return fail("the last value of its mapping ends in unusual white space; add the key by hand");
    }
    let mut at = line_end(text, end);
    let leaf = last_leaf(text, map);
    if matches!(leaf, Node::Scalar { value, quoted: false, .. } if value.is_empty()) && !is_empty_plain(text, leaf) {
        // `&anchor` or `!tag` with nothing after it: the parser may take the next line for its value.
        return fail("its parent mapping ends in an anchor or tag without a value; add the key by hand");
    }
    if matches!(leaf, Node::Scalar { block: true, .. }) {
        // White-space lines after a block scalar can be its text (`|+`, or
        // more indented than its text); the new key goes after them all.
        while at < text.len() {
            let next = line_end(text, at);
            if !blank(slice(text, at, next)) {
                break;
            }
            at = next;
        }
    }
    let file_eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    if at == text.len() && !text.ends_with('\n') {
        // The line break the new line needs would become part of a block scalar's value.
        if matches!(leaf, Node::Scalar { block: true, .. }) {
            return fail("the file ends in a block scalar (| or >) without a final line break; add one first");
        }
        return edit(at, format!("{file_eol}{indent}{entry}"));
    }
    let eol = if at >= 2 && byte(text, at - 2) == Some(b'\r') { "\r\n" } else { "\n" };
    edit(at, format!("{indent}{entry}{eol}"))
}

/// The edits spliced into `text`.
fn splice(text: &str, mut edits: Vec<Edit>) -> Result<String, String> {
    edits.sort_by_key(|e| (e.start, e.end, e.class, std::cmp::Reverse(e.depth), e.index));
    let mut out = String::with_capacity(text.len() + edits.iter().map(|e| e.text.len()).sum::<usize>());
    let mut cursor = 0;
    for edit in &edits {
        let kept = text.get(cursor..edit.start).filter(|_| edit.start <= edit.end);
        let Some(kept) = kept else {
            return Err("refusing to write: two edits overlap; this is a bug, please report it".into());
        };
        out.push_str(kept);
        out.push_str(&edit.text);
        cursor = edit.end;
    }
    let Some(rest) = text.get(cursor..) else {
        return Err("refusing to write: an edit ends outside the file; this is a bug, please report it".into());
    };
    out.push_str(rest);
    Ok(out)
}

/// `shape` with `value` at `steps` (replaced, or appended to its mapping).
fn set_shape(shape: &mut Shape, steps: &[Step], value: &str) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        *shape = Shape::Scalar(value.to_string());
        return true;
    };
    match (step, shape) {
        (Step::Key(key), Shape::Map(entries)) => {
            let wanted = Shape::Scalar(key.clone());
            match entries.iter_mut().find(|(k, _)| *k == wanted) {
                Some((_, child)) => set_shape(child, rest, value),
                None if rest.is_empty() => {
                    entries.push((wanted, Shape::Scalar(value.to_string())));
                    true
                }
                None => false,
            }
        }
        (Step::Index(index), Shape::Seq(items)) => {
            items.get_mut(*index).is_some_and(|item| set_shape(item, rest, value))
        }
        _ => false,
    }
}

/// The safety net: re-parse and compare with what was intended.
fn check(
    after: &str,
    root: &Node,
    set: &[(&KeyPath, &str)],
    in_multiline_flow: Option<&KeyPath>,
) -> Result<(), String> {
    let refuse = |why: String| Err(format!("refusing to write: the edit would {why}; this is a bug, please report it"));
    let new_root = match parse_one(after) {
        Ok(node) => node,
        // The parser lets a flow list's lines sit at its key's indentation
        // (or less) after a plain value, not after a quoted one.
        Err(problem) if in_multiline_flow.is_some() => {
            let path = in_multiline_flow.map(KeyPath::to_string).unwrap_or_default();
            return Err(format!(
                "refusing to write: with {path} double-quoted, the flow collection it is in, which spans lines, \
                 would not parse ({problem}); indent its lines deeper than its key, or put it on one line"
            ));
        }
        Err(problem) => return refuse(format!("leave a file that does not parse ({problem})")),
    };
    let mut expected = root.shape();
    for (path, value) in set {
        if !set_shape(&mut expected, &path.steps, value) {
            return refuse(format!("set {path}, which cannot be set"));
        }
    }
    if new_root.shape() != expected {
        return refuse("change more than the values it sets".into());
    }
    for (path, value) in set {
        match lookup(&new_root, path) {
            Ok(Some(Node::Scalar { value: found, .. })) if found == value => {}
            _ => return refuse(format!("not set {path} to {value:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Vec<(KeyPath, String)> {
        pairs.iter().map(|(p, v)| (KeyPath::parse(p).unwrap(), v.to_string())).collect()
    }

    fn path(text: &str) -> KeyPath {
        KeyPath::parse(text).unwrap()
    }

    const HELM: &str = "# production values\nreplicaCount: 3\nimage:\n  repository: ghcr.io/myorg/api   # set by the ledger\n  tag: \"1.4.0\"\n  pullPolicy: IfNotPresent\nsidecars:\n  - name: proxy\n    image: envoy:1.29\nresources: {limits: {cpu: 500m}}\n";

    #[test]
    fn sets_the_image_of_a_helm_values_file_and_keeps_everything_else() {
        let wanted =
            set(&[("image.repository", "ghcr.io/myorg/api"), ("image.tag", "1.5.0"), ("image.digest", "sha256:abc")]);
        let after = apply(HELM, &wanted).unwrap();
        assert_eq!(after, "# production values\nreplicaCount: 3\nimage:\n  repository: \"ghcr.io/myorg/api\"   # set by the ledger\n  tag: \"1.5.0\"\n  pullPolicy: IfNotPresent\n  digest: \"sha256:abc\"\nsidecars:\n  - name: proxy\n    image: envoy:1.29\nresources: {limits: {cpu: 500m}}\n");
        assert_eq!(apply(&after, &wanted).unwrap(), after, "idempotent");
        assert_eq!(read(&after, &path("image.digest")).unwrap().as_deref(), Some("sha256:abc"));
        assert_eq!(read(&after, &path("image.tag")).unwrap().as_deref(), Some("1.5.0"));
        assert_eq!(read(&after, &path("image.nothing")).unwrap(), None);
    }

    #[test]
    fn sets_a_list_item_field() {
        let after = apply(HELM, &set(&[("sidecars[0].image", "envoy:1.30@sha256:ee")])).unwrap();
        assert_eq!(after, HELM.replace("image: envoy:1.29", "image: \"envoy:1.30@sha256:ee\""));
        let after = apply(HELM, &set(&[("sidecars[0].digest", "sha256:ee")])).unwrap();
        assert_eq!(after, HELM.replace("image: envoy:1.29\n", "image: envoy:1.29\n    digest: \"sha256:ee\"\n"));
    }

    #[test]
    fn keeps_crlf_line_endings() {
        let before = "image:\r\n  repository: api # r\r\n  tag: 1.0\r\nother: x\r\n";
        let after = apply(before, &set(&[("image.tag", "1.1"), ("image.digest", "sha256:1")])).unwrap();
        assert_eq!(
            after,
            "image:\r\n  repository: api # r\r\n  tag: \"1.1\"\r\n  digest: \"sha256:1\"\r\nother: x\r\n"
        );
    }

    #[test]
    fn a_file_without_a_trailing_newline_keeps_having_none() {
        let before = "image:\n  tag: 1.0 # t";
        let wanted = set(&[("image.digest", "sha256:1"), ("image.tag", "1.1"), ("top", "x")]);
        let after = apply(before, &wanted).unwrap();
        assert_eq!(after, "image:\n  tag: \"1.1\" # t\n  digest: \"sha256:1\"\ntop: \"x\"");
        assert_eq!(apply(&after, &wanted).unwrap(), after, "idempotent");
        let crlf = apply("a: 1\r\nb: 2", &set(&[("c", "3")])).unwrap();
        assert_eq!(crlf, "a: 1\r\nb: 2\r\nc: \"3\"");
    }

    #[test]
    fn appends_to_flow_mappings() {
        let after = apply(HELM, &set(&[("resources.limits.memory", "1Gi"), ("resources.requests", "x")])).unwrap();
        assert_eq!(
            after,
            HELM.replace("{limits: {cpu: 500m}}", "{limits: {cpu: 500m, memory: \"1Gi\"}, requests: \"x\"}")
        );
        let after = apply(
            "a: {}\nb: { }\nc: {x: 1, }\nd: {y}\n",
            &set(&[("a.k", "1"), ("b.k", "2"), ("c.k", "3"), ("d.k", "4")]),
        )
        .unwrap();
        assert_eq!(after, "a: {k: \"1\"}\nb: { k: \"2\"}\nc: {x: 1, k: \"3\", }\nd: {y, k: \"4\"}\n");
    }

    #[test]
    fn several_keys_appended_to_one_mapping_come_in_the_order_given() {
        let before = "a:\n  b:\n    c: 1\n";
        let wanted = set(&[("z", "1"), ("a.m", "2"), ("a.b.x", "3"), ("a.b.w", "4"), ("a.v", "5")]);
        let after = apply(before, &wanted).unwrap();
        assert_eq!(after, "a:\n  b:\n    c: 1\n    x: \"3\"\n    w: \"4\"\n  m: \"2\"\n  v: \"5\"\nz: \"1\"\n");
    }

    #[test]
    fn an_empty_value_gets_the_value_after_its_colon() {
        let before = "image:\n  tag:\n  digest: # pinned\n  x: {a: , b}\nlist:\n  -\n  - y\n";
        let wanted = set(&[
            ("image.tag", "1.0"),
            ("image.digest", "sha256:1"),
            ("image.x.a", "A"),
            ("image.x.b", "B"),
            ("list[0]", "z"),
        ]);
        let after = apply(before, &wanted).unwrap();
        assert_eq!(
            after,
            "image:\n  tag: \"1.0\"\n  digest: \"sha256:1\" # pinned\n  x: {a: \"A\" , b: \"B\"}\nlist:\n  - \"z\"\n  - y\n"
        );
        assert_eq!(apply("tag:", &set(&[("tag", "1"), ("more", "2")])).unwrap(), "tag: \"1\"\nmore: \"2\"");
        assert_eq!(read("tag:\n", &path("tag")).unwrap().as_deref(), Some(""));
    }

    #[test]
    fn block_scalars_are_replaced_keeping_a_header_comment() {
        let before = "a: |  # note\n  one\n  two\n# after\nb: >-\nc: 1\n";
        let after = apply(before, &set(&[("a", "x"), ("b", "y")])).unwrap();
        assert_eq!(after, "a: \"x\"  # note\n# after\nb: \"y\"\nc: 1\n");
        let err = apply("l:\n- |\n  x\n", &set(&[("l[0]", "v")])).unwrap_err();
        assert!(err.contains("cannot set l[0]: it is a block scalar"), "{err}");
        let kept = apply("a:\n  k: |+\n    text\n\n\nb: 1\n", &set(&[("a.extra", "v")])).unwrap();
        assert_eq!(kept, "a:\n  k: |+\n    text\n\n\n  extra: \"v\"\nb: 1\n");
    }

    /// Regression (found by the values fuzz target): a key appended after a
    /// block scalar at the end of a file without a final line break gave
    /// that scalar a line break more; refused as a bug by the safety check.
    #[test]
    fn fuzz_crash_append_after_a_block_scalar_at_the_end_of_the_file_is_refused_clearly() {
        for before in ["a:\r\n  b: |+ # h\r\n   ", "k: |\n  text"] {
            let err = apply(before, &set(&[("n", "v")])).unwrap_err();
            assert_eq!(
                err,
                "cannot add n: the file ends in a block scalar (| or >) without a final line break; add one first"
            );
        }
        assert_eq!(apply("k: |\n  text\n", &set(&[("more", "v")])).unwrap(), "k: |\n  text\nmore: \"v\"\n");
        let kept = "a:\r\n  b: |+ # h\r\n   \r\n";
        assert_eq!(apply(kept, &set(&[("more", "v")])).unwrap(), format!("{kept}more: \"v\"\r\n"));
    }

    /// Regression (found by the values fuzz target): a mapping ending in an
    /// empty block scalar, which the parser places at the start of the next
    /// line, got its new key after that next line.
    #[test]
    fn fuzz_crash_key_appended_after_an_empty_block_scalar_went_a_line_too_far() {
        let before = "a:\r\n  b: |+ # h\r\nl:\r\n-\r\n- [2, 2,im+geP ]";
        let after = apply(before, &set(&[("a. b", "")])).unwrap();
        assert_eq!(after, "a:\r\n  b: |+ # h\r\n  \" b\": \"\"\r\nl:\r\n-\r\n- [2, 2,im+geP ]");
        let after = apply("a:\n  b: >-\n\n\nc: 1\n", &set(&[("a.d", "v")])).unwrap();
        assert_eq!(after, "a:\n  b: >-\n\n\n  d: \"v\"\nc: 1\n");
    }

    /// Regression (found by the values fuzz target): a long key with escapes
    /// was written as a double-quoted key longer than the 1024 characters YAML
    /// allows an implicit key.
    #[test]
    fn fuzz_crash_overlong_key_is_refused() {
        let key = "\0".repeat(300);
        let err = apply("a: 1\n", &set(&[(&key, "v")])).unwrap_err();
        assert_eq!(err, format!("cannot add {key}: its key is too long to be written as a YAML key"));
    }

    /// Regression (found by the values fuzz target): a mapping whose first
    /// key is explicit (`? key`) got new keys indented like that key's text.
    /// Where the only keys are mappings (`? c: 1`), there is no telling.
    #[test]
    fn fuzz_crash_explicit_first_key_sets_the_indentation_not_its_text() {
        let err = apply("?\r\n\r\n  c:\t \t  \t", &set(&[("k", "0")])).unwrap_err();
        assert_eq!(err, "cannot add k: its parent mapping has no plain key to take the indentation from");
        let before = "?\r\n\r\n  c:\t \t  \t\r\nd: 1";
        let after = apply(before, &set(&[("k", "0"), ("gima\"t*g", "hi")])).unwrap();
        assert_eq!(after, format!("{before}\r\nk: \"0\"\r\n\"gima\\\"t*g\": \"hi\""));
        let after = apply("?\r\n ? mag\x05\nPPPPPPpPPts: ", &set(&[("k", "v")])).unwrap();
        assert_eq!(after, "?\r\n ? mag\x05\nPPPPPPpPPts: \r\nk: \"v\"");
        let after = apply("top:\n  ? a\n  :\n", &set(&[("top.a", "1"), ("top.b", "2")])).unwrap();
        assert_eq!(after, "top:\n  ? a\n  : \"1\"\n  b: \"2\"\n");
    }

    /// Regression (found by the values fuzz target): a plain scalar ending
    /// in a form feed (text to YAML, white space to Rust's `trim_end`) was
    /// replaced without it, leaving `"new"\x0c` that does not parse. The
    /// scalar's span now keeps it (yaml.rs), so the whole value is replaced.
    #[test]
    fn fuzz_crash_scalar_ending_in_a_form_feed_is_replaced_whole() {
        let before = "l:\r\n- [1\x0c, 2, ]\r\nm: {a: 1\x0c}\n";
        let after = apply(before, &set(&[("l[0][0]", "x")])).unwrap();
        assert_eq!(after, "l:\r\n- [\"x\", 2, ]\r\nm: {a: 1\x0c}\n");
        assert_eq!(apply(before, &set(&[("m.b", "x")])).unwrap(), "l:\r\n- [1\x0c, 2, ]\r\nm: {a: 1\x0c, b: \"x\"}\n");
        assert_eq!(apply(before, &set(&[("l[0][1]", "x")])).unwrap(), "l:\r\n- [1\x0c, \"x\", ]\r\nm: {a: 1\x0c}\n");
        // Also when the form feed is on a line of its own, continuing a plain scalar.
        let before = "a:\r\n  b\x16# d\r\n    \x0c";
        assert_eq!(apply(before, &set(&[("k", "v")])).unwrap(), "a:\r\n  b\x16# d\r\n    \x0c\r\nk: \"v\"");
        assert_eq!(apply(before, &set(&[("a", "v")])).unwrap(), "a:\r\n  \"v\"");
    }

    /// Regression (found by the values fuzz target): a white-space line
    /// more indented than a block scalar's text is part of it; a key appended
    /// before that line took it away from the scalar.
    #[test]
    fn fuzz_crash_key_appended_inside_the_white_space_of_a_block_scalar() {
        let before = "a:# h b: |\r\n  h\r\n   \n";
        assert_eq!(read(before, &path("a:# h b")).unwrap().as_deref(), Some("h\n \n"));
        let after = apply(before, &set(&[("k", "=")])).unwrap();
        assert_eq!(after, "a:# h b: |\r\n  h\r\n   \nk: \"=\"\n");
    }

    /// Regression (found by the values fuzz target): the same, when the block
    /// scalar ends an explicit key (`? b: |+`) whose value is empty.
    #[test]
    fn fuzz_crash_key_appended_inside_the_white_space_of_a_block_scalar_in_an_explicit_key() {
        let before = "a:\r\n? b: |+ # h\r\n   \n";
        let after = apply(before, &set(&[("k", "q;")])).unwrap();
        assert_eq!(after, "a:\r\n? b: |+ # h\r\n   \nk: \"q;\"\n");
    }

    /// Regression (found by the values fuzz target): the parser accepts a
    /// flow list's closing bracket at its key's indentation after a plain
    /// value but not after a double-quoted one; refused with a message that
    /// says so instead of "this is a bug".
    #[test]
    fn fuzz_crash_quoted_value_in_a_flow_list_closed_at_the_key_indentation() {
        let before = "l:\r\n-\r\n- [1repo \n\n]";
        let err = apply(before, &set(&[("l[1][0]", "q")])).unwrap_err();
        assert!(err.starts_with("refusing to write: with l[1][0] double-quoted, the flow collection"), "{err}");
        assert!(!err.contains("bug"), "{err}");
        let indented = "l:\n- [1repo \n  ]\n";
        assert_eq!(apply(indented, &set(&[("l[0][0]", "q")])).unwrap(), "l:\n- [\"q\" \n  ]\n");
    }

    /// Regression (found by the values fuzz target): the `:` of an explicit
    /// key with an empty value, after comment lines, was not found, and a
    /// new key went between the `? key` and its `:`.
    #[test]
    fn fuzz_crash_key_appended_between_an_explicit_key_and_its_colon() {
        let before = "a: 1\n? k\n  # note\n:\n";
        assert_eq!(apply(before, &set(&[("b", "2")])).unwrap(), "a: 1\n? k\n  # note\n:\nb: \"2\"\n");
        assert_eq!(apply(before, &set(&[("k", "3")])).unwrap(), "a: 1\n? k\n  # note\n: \"3\"\n");
    }

    /// Regression (found by the values fuzz target): the same, with a
    /// comment after the `?`.
    #[test]
    fn fuzz_crash_explicit_first_key_after_a_comment_sets_the_indentation() {
        let before = "#image\n? #a:\r\n  333333333 pRoaq\r\n: 1";
        let after = apply(before, &set(&[("i1ead", "x")])).unwrap();
        assert_eq!(after, format!("{before}\r\ni1ead: \"x\""));
    }

    /// Regression (found by the values fuzz target): two keys appended to a
    /// flow mapping without a comma to follow (empty, or with a trailing
    /// comma) came out without a comma between them.
    #[test]
    fn fuzz_crash_two_keys_appended_to_a_flow_mapping_ending_in_a_comma() {
        let wanted = set(&[("a.b", "v"), ("a.f", "g=h")]);
        let after = apply("a: {1', 2,}\r\nl:\r\n-\r\n- [1, 2, ]", &wanted).unwrap();
        assert_eq!(after, "a: {1', 2, b: \"v\", f: \"g=h\"}\r\nl:\r\n-\r\n- [1, 2, ]");
        assert_eq!(apply("a: {}\n", &wanted).unwrap(), "a: {b: \"v\", f: \"g=h\"}\n");
    }

    /// Regression (found by the values fuzz target): a mapping whose only
    /// key is a list (`? - x`) gave new keys the indentation of that list's item.
    #[test]
    fn fuzz_crash_indentation_taken_from_a_key_that_is_a_list() {
        let err = apply("  #a ~  \x0c\n?\r\n-", &set(&[("a2", "")])).unwrap_err();
        assert_eq!(err, "cannot add a2: its parent mapping has no plain key to take the indentation from");
        let after = apply("? - x\n: 1\nb: 2\n", &set(&[("c", "3")])).unwrap();
        assert_eq!(after, "? - x\n: 1\nb: 2\nc: \"3\"\n");
    }

    /// Regression (found by the values fuzz target): the `:` found for an
    /// explicit key with an empty value was a less indented one, the empty
    /// key of the mapping around it; a key appended went into the wrong mapping.
    #[test]
    fn fuzz_crash_an_outer_mappings_colon_taken_for_that_of_an_explicit_key() {
        let before = "a:\r\n   ?  x\n:\r\n   ?  x\n\t\t\t  ";
        let after = apply(before, &set(&[("a.f", "w=q")])).unwrap();
        assert_eq!(after, "a:\r\n   ?  x\n   f: \"w=q\"\n:\r\n   ?  x\n\t\t\t  ");
    }

    /// Regression (found by the values fuzz target): a key appended after
    /// an anchor without a value (`- &a` ending the file) was read as that
    /// anchor's node.
    #[test]
    fn fuzz_crash_key_appended_after_a_dangling_anchor() {
        let err = apply("{d: &e}: {d: &e}\r\nl:\r\n-\r\n- &/", &set(&[("-", "=")])).unwrap_err();
        assert_eq!(
            err,
            "cannot add -: its parent mapping ends in an anchor or tag without a value; add the key by hand"
        );
    }

    /// Regression (found by the values fuzz target): the parser's tree
    /// marks a block collection that starts with a flow one (`{d: e}: f`,
    /// `- [a]`) as flow; keys were appended to it in flow style.
    #[test]
    fn fuzz_crash_block_collection_starting_with_a_flow_one_taken_for_flow() {
        let after = apply("{d: e}: f\nl:\n- [a]\n", &set(&[("k", "v"), ("m", "w")])).unwrap();
        assert_eq!(after, "{d: e}: f\nl:\n- [a]\nk: \"v\"\nm: \"w\"\n");
        let err = apply("a:\r\n\n\n ?\r\n-g:\r\n- [+geP ]", &set(&[("a.b", "v")])).unwrap_err();
        assert_eq!(err, "cannot add a.b: its parent mapping has no plain key to take the indentation from");
    }

    /// Regression (found by the values fuzz target): a key that is a
    /// mapping with its own explicit `?` (`?\n ? a`) gave new keys the
    /// indentation of that inner `?`.
    #[test]
    fn fuzz_crash_indentation_taken_from_the_question_mark_inside_a_key() {
        let after = apply("?\n ? a\nb: ", &set(&[("k", "v")])).unwrap();
        assert_eq!(after, "?\n ? a\nb: \nk: \"v\"");
        let err = apply("x: 1\n? {a: 1}\n:\n", &set(&[("k", "v")])).unwrap_err();
        assert!(err.contains("explicit `?` key whose end cannot be told"), "{err}");
        let after = apply("x: 1\n? {a: 1}\n", &set(&[("k", "v")])).unwrap();
        assert_eq!(after, "x: 1\n? {a: 1}\nk: \"v\"\n");
    }

    /// Regression (found by the values fuzz target): the parser's tree
    /// marks a flow mapping with a tag (`!t {d: 1}`) as block; keys were
    /// appended to it in block style.
    #[test]
    fn fuzz_crash_flow_mapping_with_a_tag_taken_for_block() {
        let before = "a::\r\n !Uc: {d: ,!e??N??{\r\n}}\n";
        let after = apply(before, &set(&[("a:.k", "h")])).unwrap();
        assert_eq!(after, "a::\r\n !Uc: {d: ,!e??N??{\r\n}, k: \"h\"}\n");
        let after = apply("a: !t {d: 1}\nb: &x [c]\n", &set(&[("a.e", "2"), ("b[0]", "3")])).unwrap();
        assert_eq!(after, "a: !t {d: 1, e: \"2\"}\nb: &x [\"3\"]\n");
        // Not a key's own bracket, nor a comment's.
        let err = apply("#J  :e:\n &r {:ue }:", &set(&[("k", "af")])).unwrap_err();
        assert_eq!(err, "cannot add k: its parent mapping has no plain key to take the indentation from");
        let after = apply("# values {\nk: 1\n", &set(&[("j", "2")])).unwrap();
        assert_eq!(after, "# values {\nk: 1\nj: \"2\"\n");
    }

    /// Regression (found by the values fuzz target): a vertical tab (text
    /// to YAML) before a flow mapping's `}` was trimmed as white space, and a
    /// key appended there ran into the key it ended.
    #[test]
    fn fuzz_crash_vertical_tab_key_trimmed_before_a_closing_brace() {
        let after = apply(" {\n\td:\r\n,\n\x0b}", &set(&[("21", "{"), (",", "")])).unwrap();
        assert_eq!(after, " {\n\td:\r\n,\n\x0b, \"21\": \"{\", \",\": \"\"}");
    }

    /// Regression (found by the values fuzz target): after a `%` directive
    /// line with non-ASCII text the parser places every node a few bytes off;
    /// a key was appended with the indentation read from the wrong bytes.
    #[test]
    fn fuzz_crash_parser_positions_off_after_a_non_ascii_directive() {
        let before = "%:\u{6fbef}w#!--\n--- #z#####\r\n---\x1b\t:\n";
        let err = apply(before, &set(&[("\0~,", "%x\x0e")])).unwrap_err();
        assert!(err.starts_with("cannot be edited safely: the YAML parser places its values"), "{err}");
    }

    /// Regression (found by the values fuzz target, as a slow unit): the
    /// extent of a mapping ending in an explicit key that is itself such a
    /// mapping (`? ? ? …`) was worked out twice a level, 2^depth times.
    #[test]
    fn fuzz_crash_nested_explicit_keys_took_exponential_time() {
        let before = format!("a:\n{}:1\n", "? ".repeat(60));
        let started = std::time::Instant::now();
        let _ = apply(&before, &set(&[("b", "1")]));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    /// Regression (found by the values fuzz target): a block scalar key
    /// (`? >`) gave new keys the indentation of its text.
    #[test]
    fn fuzz_crash_indentation_taken_from_a_block_scalar_key() {
        let before = "!-+5-555+NNNNNNNNNNNNNNi.e~:\n? i~e~:\n? >\n \tNNN|tg+\n";
        let err = apply(before, &set(&[("z", "t")])).unwrap_err();
        assert_eq!(err, "cannot add z: its parent mapping has no plain key to take the indentation from");
        let after = apply("? >\n  folded\n: 1\nb: 2\n", &set(&[("z", "t")])).unwrap();
        assert_eq!(after, "? >\n  folded\n: 1\nb: 2\nz: \"t\"\n");
    }

    #[test]
    fn values_and_keys_are_quoted_and_escaped() {
        let after =
            apply("a: 1\n", &set(&[("a", "say \"hi\" \\ \n"), ("needs: quoting", "v"), ("yes", "t"), ("8080", "p")]))
                .unwrap();
        assert_eq!(
            after,
            "a: \"say \\\"hi\\\" \\\\ \\n\"\n\"needs: quoting\": \"v\"\n\"yes\": \"t\"\n\"8080\": \"p\"\n"
        );
        assert_eq!(read(&after, &path("a")).unwrap().as_deref(), Some("say \"hi\" \\ \n"));
    }

    #[test]
    fn a_missing_parent_is_an_error_naming_the_path() {
        let err = apply(HELM, &set(&[("image.registry.host", "x")])).unwrap_err();
        assert_eq!(err, "cannot set image.registry.host: image.registry does not exist; every parent along a path must already exist");
        let err = apply(HELM, &set(&[("replicaCount.x", "1")])).unwrap_err();
        assert_eq!(err, "cannot set replicaCount.x: replicaCount is a single value, not a mapping");
        let err = apply(HELM, &set(&[("image[0]", "1")])).unwrap_err();
        assert_eq!(err, "cannot set image[0]: image is a mapping, not a list");
    }

    #[test]
    fn an_index_out_of_range_is_an_error() {
        let err = apply(HELM, &set(&[("sidecars[1].image", "x")])).unwrap_err();
        assert_eq!(err, "cannot set sidecars[1].image: sidecars has 1 item, so [1] is out of range");
        assert_eq!(read(HELM, &path("sidecars[1].image")).unwrap(), None);
    }

    #[test]
    fn a_path_to_a_mapping_or_list_is_an_error() {
        let err = apply(HELM, &set(&[("image", "x")])).unwrap_err();
        assert_eq!(err, "cannot set image: it is a mapping, not a single value; name one of its keys");
        let err = apply(HELM, &set(&[("sidecars", "x")])).unwrap_err();
        assert!(err.starts_with("cannot set sidecars: it is a list"), "{err}");
        assert_eq!(read(HELM, &path("image")).unwrap_err(), "cannot read image: it is a mapping, not a single value");
        assert_eq!(
            read(HELM, &path("replicaCount.x")).unwrap_err(),
            "cannot read replicaCount.x: replicaCount is a single value, not a mapping"
        );
    }

    #[test]
    fn files_that_are_not_one_mapping_are_refused() {
        assert_eq!(apply("", &set(&[("a", "1")])).unwrap_err(), "is empty");
        assert_eq!(
            apply("a: 1\n---\nb: 2\n", &set(&[("a", "1")])).unwrap_err(),
            "holds 2 YAML documents; a values file is one"
        );
        assert_eq!(
            apply("- a\n", &set(&[("a", "1")])).unwrap_err(),
            "is a list at the top level, not a mapping (a values file is one)"
        );
        assert!(apply("a: 1\n", &set(&[("a", "1"), ("a", "2")])).unwrap_err().contains("twice"));
    }

    #[test]
    fn anchors_aliases_and_tags_are_left_to_people() {
        let before = "a: &v 1\nb: *v\nc: !!int 2\nd: !!str 1.10\n";
        assert!(apply(before, &set(&[("a", "x")])).unwrap_err().contains("anchor (&v)"));
        assert!(apply(before, &set(&[("b", "x")])).unwrap_err().contains("alias"));
        assert!(apply(before, &set(&[("c", "x")])).unwrap_err().contains("tag !!int"));
        let after = apply(before, &set(&[("d", "1.11")])).unwrap();
        assert_eq!(after, "a: &v 1\nb: *v\nc: !!int 2\nd: \"1.11\"\n");
    }

    #[test]
    fn reapplying_changes_nothing() {
        let wanted = set(&[("image.tag", "1.4.0"), ("sidecars[0].image", "envoy:1.29")]);
        let once = apply(HELM, &wanted).unwrap();
        assert_eq!(once, HELM.replace("image: envoy:1.29", "image: \"envoy:1.29\""));
        assert_eq!(apply(&once, &wanted).unwrap(), once);
        assert_eq!(apply(HELM, &[]).unwrap(), HELM);
    }

    #[test]
    fn key_paths_parse_and_display_back() {
        for good in ["image.tag", "sidecars[0].image", "a.b[2][0].c", "a", "x[10]", "with space.k-y/z", "é.ü"] {
            assert_eq!(KeyPath::parse(good).unwrap().to_string(), good);
        }
        assert_eq!(
            KeyPath::parse("a.b[2][0].c").unwrap().steps,
            vec![Step::Key("a".into()), Step::Key("b".into()), Step::Index(2), Step::Index(0), Step::Key("c".into())]
        );
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "[0]",
            "[0].a",
            "a[x]",
            "a[",
            "a[]",
            "a[-1]",
            "a[01]",
            "a]",
            "a[0]b",
            "a.[0]",
            "a[99999999999999999999999]",
        ] {
            assert!(KeyPath::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            KeyPath::parse("a..b").unwrap_err(),
            "bad key path \"a..b\": it has an empty key (two dots in a row, or a dot at an end)"
        );
    }
}
