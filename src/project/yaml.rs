//! Just enough of a YAML document tree, with byte spans into the source, to
//! find and edit a kustomization's `images:` entries without touching a byte
//! of anything else. Parsing is saphyr-parser's (YAML 1.2).

use saphyr_parser::{Event, Parser, ScalarStyle};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Scalar {
        value: String,
        quoted: bool,
        /// A `|` or `>` block scalar, whose text spans lines.
        block: bool,
        start: usize,
        end: usize,
    },
    Seq {
        items: Vec<Node>,
        flow: bool,
        start: usize,
        end: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        flow: bool,
        start: usize,
        end: usize,
    },
    /// Aliases and anything else this tool never edits.
    Other {
        start: usize,
        end: usize,
    },
}

impl Node {
    pub fn start(&self) -> usize {
        match self {
            Node::Scalar { start, .. }
            | Node::Seq { start, .. }
            | Node::Map { start, .. }
            | Node::Other { start, .. } => *start,
        }
    }

    /// Byte just past the node's last character (for block collections: past
    /// their last descendant, not past trailing comments).
    pub fn end(&self) -> usize {
        match self {
            Node::Scalar { end, .. } | Node::Seq { end, .. } | Node::Map { end, .. } | Node::Other { end, .. } => *end,
        }
    }

    pub fn scalar(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries.iter().find(|(k, _)| k.scalar() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The content without positions, for comparing two parses.
    pub fn shape(&self) -> Shape {
        match self {
            Node::Scalar { value, .. } => Shape::Scalar(value.clone()),
            Node::Seq { items, .. } => Shape::Seq(items.iter().map(Node::shape).collect()),
            Node::Map { entries, .. } => Shape::Map(entries.iter().map(|(k, v)| (k.shape(), v.shape())).collect()),
            Node::Other { .. } => Shape::Other,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    Scalar(String),
    Seq(Vec<Shape>),
    Map(Vec<(Shape, Shape)>),
    Other,
}

/// Parses a one-document YAML file. Errors are messages for people.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut documents = parse_documents(text)?;
    if documents.len() > 1 {
        return Err(format!("holds {} YAML documents; a kustomization is one", documents.len()));
    }
    documents.pop().ok_or_else(|| "is empty".to_string())
}

/// Parses every document of a YAML file (empty documents are skipped).
pub fn parse_documents(text: &str) -> Result<Vec<Node>, String> {
    // YAML reads a lone CR as a line break; the byte-level edits here work on
    // LF and CRLF lines only, so such a file is refused rather than misedited.
    if text.as_bytes().windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n') || text.ends_with('\r') {
        return Err("uses bare CR line breaks; convert it to LF or CRLF line endings".into());
    }
    // saphyr reports positions in characters; edits need bytes.
    let byte_of: Vec<usize> = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).collect();
    let byte = |char_index: usize| byte_of.get(char_index).copied().unwrap_or(text.len());
    let mut events = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| e.to_string())?;
        events.push((event, byte(span.start.index()), byte(span.end.index())));
    }
    let mut documents = Vec::new();
    let mut position = 0;
    while position < events.len() {
        match &events[position].0 {
            Event::DocumentStart(_) => {
                position += 1;
                if !matches!(events.get(position).map(|e| &e.0), Some(Event::DocumentEnd)) {
                    let (node, next) = build(&events, position, text)?;
                    documents.push(node);
                    position = next;
                }
            }
            _ => position += 1,
        }
    }
    Ok(documents)
}

type Spanned<'a> = (Event<'a>, usize, usize);

fn build(events: &[Spanned], position: usize, text: &str) -> Result<(Node, usize), String> {
    let Some((event, start, end)) = events.get(position) else { return Err("ends early".into()) };
    match event {
        Event::Scalar(value, style, _, _) => Ok((
            Node::Scalar {
                value: value.to_string(),
                quoted: !matches!(style, ScalarStyle::Plain),
                block: matches!(style, ScalarStyle::Literal | ScalarStyle::Folded),
                start: *start,
                end: scalar_end(text, *start, *end, *style),
            },
            position + 1,
        )),
        Event::SequenceStart(_, _) => {
            let flow = text.as_bytes().get(*start) == Some(&b'[');
            let mut items = Vec::new();
            let mut next = position + 1;
            loop {
                match events.get(next) {
                    // A flow collection ends at its bracket; the parser's span
                    // for the end event can run on over a trailing comment.
                    Some((Event::SequenceEnd, bracket, _)) => {
                        let end = if flow { bracket + 1 } else { items.last().map_or(*start, Node::end) };
                        let start = if flow { *start } else { items.first().map_or(*start, Node::start) };
                        return Ok((Node::Seq { items, flow, start, end }, next + 1));
                    }
                    Some(_) => {
                        let (item, after) = build(events, next, text)?;
                        items.push(item);
                        next = after;
                    }
                    None => return Err("a sequence does not end".into()),
                }
            }
        }
        Event::MappingStart(_, _) => {
            let flow = text.as_bytes().get(*start) == Some(&b'{');
            let mut entries = Vec::new();
            let mut next = position + 1;
            loop {
                match events.get(next) {
                    Some((Event::MappingEnd, brace, _)) => {
                        let end = if flow {
                            brace + 1
                        } else {
                            entries.last().map_or(*start, |(_, v): &(Node, Node)| v.end())
                        };
                        let start = if flow {
                            *start
                        } else {
                            entries.first().map_or(*start, |(k, _): &(Node, Node)| k.start())
                        };
                        return Ok((Node::Map { entries, flow, start, end }, next + 1));
                    }
                    Some(_) => {
                        let (key, after_key) = build(events, next, text)?;
                        // Duplicate keys are invalid YAML, and readers disagree on which wins.
                        if let Some(name) = key.scalar() {
                            if entries.iter().any(|(k, _): &(Node, Node)| k.scalar() == Some(name)) {
                                return Err(format!("has the key {name:?} twice in one mapping"));
                            }
                        }
                        let (value, after_value) = build(events, after_key, text)?;
                        entries.push((key, value));
                        next = after_value;
                    }
                    None => return Err("a mapping does not end".into()),
                }
            }
        }
        _ => Ok((Node::Other { start: *start, end: *end }, position + 1)),
    }
}

/// Where a scalar's own text ends. The parser's span can run on over the
/// spaces and comment after a quoted scalar; an edit must not.
fn scalar_end(text: &str, start: usize, end: usize, style: ScalarStyle) -> usize {
    let bytes = text.as_bytes();
    let quote = match style {
        ScalarStyle::DoubleQuoted => b'"',
        ScalarStyle::SingleQuoted => b'\'',
        _ => {
            // YAML's white space only: a vertical tab or a no-break space is content.
            let own = text.get(start..end).unwrap_or_default();
            return start + own.trim_end_matches([' ', '\t', '\r', '\n']).len();
        }
    };
    // The span starts at the scalar's anchor or tag, if it has one.
    let mut i = content_start(text, start, end) + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote && quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    end
}

/// Where a scalar's own text starts, given its span `start..end`: past its
/// anchor (`&a`) and tag (`!!str`), which the parser's span includes and an
/// edit of the value must keep. `start` when it has neither.
pub fn content_start(text: &str, start: usize, end: usize) -> usize {
    let bytes = text.as_bytes();
    let space = |at: usize| matches!(bytes.get(at), Some(b' ' | b'\t' | b'\r' | b'\n'));
    let mut at = start;
    while at < end {
        match bytes.get(at) {
            // A property runs to the next whitespace; content cannot start with either indicator.
            Some(b'&' | b'!') => {
                while at < end && at < bytes.len() && !space(at) {
                    at += 1;
                }
            }
            _ if at > start && space(at) => at += 1,
            // A comment between the properties and the content.
            Some(b'#') if at > start => {
                while at < end && !matches!(bytes.get(at), Some(b'\n') | None) {
                    at += 1;
                }
            }
            _ => break,
        }
    }
    at
}

/// `value` as a double-quoted YAML scalar. What YAML does not allow
/// printed, and what some readers take for a line break or byte order mark,
/// is escaped.
pub fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where the line holding `at` starts.
pub fn line_start(text: &str, at: usize) -> usize {
    text.get(..at).and_then(|s| s.rfind('\n')).map_or(0, |i| i + 1)
}

/// Just past the end of the line holding `at` (past its newline, if any).
pub fn line_end(text: &str, at: usize) -> usize {
    text.get(at..).and_then(|s| s.find('\n')).map_or(text.len(), |i| at + i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_bytes_even_after_multibyte_text() {
        let text = "# café ☕\nimages:\n- name: x\n  newTag: \"v1\"\n";
        let root = parse(text).unwrap();
        let tag = root.get("images").and_then(|s| match s {
            Node::Seq { items, .. } => items[0].get("newTag").cloned(),
            _ => None,
        });
        let Some(Node::Scalar { start, end, value, quoted, .. }) = tag else { panic!("no tag") };
        assert_eq!((&text[start..end], value.as_str(), quoted), ("\"v1\"", "v1", true));
    }

    #[test]
    fn a_quoted_scalar_ends_at_its_closing_quote_not_at_the_comment() {
        let text = "newTag: \"1.10\" # old\nother: 'it''s' # c\n";
        let root = parse(text).unwrap();
        for (key, expected) in [("newTag", "\"1.10\""), ("other", "'it''s'")] {
            let node = root.get(key).unwrap();
            assert_eq!(&text[node.start()..node.end()], expected);
        }
    }

    /// Regression (found by the overlay fuzz target): a second `images:` key,
    /// reached through bare CR line breaks, made projection append the entry
    /// again on every run.
    #[test]
    fn fuzz_crash_duplicate_images_key_behind_bare_cr_is_refused() {
        let crash = "\r\rimages\t:\n\n-\t\t;\rimages\t:\n\n-\t\t";
        assert!(parse(crash).unwrap_err().contains("bare CR"));
        assert!(parse("images: []\nimages: []\n").unwrap_err().contains("twice"));
    }

    /// Regression: a double-quoted scalar after an anchor or tag ended at
    /// its opening quote, so an edit of it broke the file.
    #[test]
    fn a_quoted_scalar_after_an_anchor_or_tag_ends_at_its_closing_quote() {
        let text = "a: !!str &x \"v:1\" # c\nb: &y 'w'\nc: *x\n";
        let root = parse(text).unwrap();
        for (key, expected, content) in [("a", "!!str &x \"v:1\"", "\"v:1\""), ("b", "&y 'w'", "'w'")] {
            let node = root.get(key).unwrap();
            assert_eq!(&text[node.start()..node.end()], expected);
            assert_eq!(&text[content_start(text, node.start(), node.end())..node.end()], content);
        }
    }

    /// Regression (found by the image_field fuzz target): a plain scalar
    /// ending in a vertical tab or no-break space, which YAML counts as
    /// content, got a span without it, so an edit left it behind the new value.
    #[test]
    fn fuzz_crash_plain_scalar_ending_in_unicode_space_keeps_it_in_its_span() {
        for text in ["image: \u{b}", "image: x\u{a0} # c\n", "image: x\u{2003}\t\n"] {
            let root = parse(text).unwrap();
            let (node, value) = (root.get("image").unwrap(), root.get("image").and_then(Node::scalar).unwrap());
            assert_eq!(&text[node.start()..node.end()], value, "{text:?}");
        }
    }

    #[test]
    fn flow_and_block_collections_report_their_extent() {
        let text = "images: [{name: a, newTag: b}]   # c\nkind: K\n";
        let root = parse(text).unwrap();
        let images = root.get("images").unwrap();
        assert_eq!(&text[images.start()..images.end()], "[{name: a, newTag: b}]");
        assert!(parse("a: 1\n---\nb: 2\n").unwrap_err().contains("2 YAML documents"));
    }
}
