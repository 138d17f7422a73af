//! Escaping for every place output goes, one function per target. Record
//! content is written by whoever opens a pull request (a `reason`, an
//! override reason, a file name, a parse error quoting bad JSON), so every
//! writer passes what it prints through the function for its target, and
//! nothing a record holds can become a terminal control sequence, a GitHub
//! workflow command, or markdown or HTML that renders as anything but text.

use std::fmt::Write;

/// Whether `c` must never reach a terminal or a log raw: C0 controls (CR,
/// LF and ESC among them), DEL and C1 controls, and the Unicode
/// bidirectional controls that make text display in an order other than
/// its bytes ("Trojan Source", CVE-2021-42574).
fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// One line of text for a terminal or a log: every control character shown
/// as a Rust-style escape (`\n`, `\r`, `\t`, `\u{1b}`), so text stays on its
/// line and no escape sequence reaches the terminal. Backslashes stay as
/// they are: the output is for people, not to be parsed back.
pub fn terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_hidden_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A plain line of a GitHub Actions log (outside a workflow command): as for
/// a terminal, and a line that would read as a command is defused. The
/// runner takes a line as a command when it starts with `::` after leading
/// whitespace, or (the older syntax) holds `##[` anywhere.
pub fn workflow_line(text: &str) -> String {
    let line = terminal(text).replace("##[", "#\\#[");
    if line.trim_start().starts_with("::") {
        format!("\\{line}")
    } else {
        line
    }
}

/// The message of a workflow command (after the second `::`): one line as
/// for a terminal, with `%` escaped as the runner unescapes it. CR and LF,
/// which the runner would take as `%0D` and `%0A`, are already shown as
/// `\r` and `\n`, so a message is always one line of the log.
pub fn workflow_data(text: &str) -> String {
    terminal(text).replace('%', "%25")
}

/// A property value of a workflow command (`file=`, `title=`): as data, and
/// `:` and `,`, which end a value.
pub fn workflow_property(text: &str) -> String {
    workflow_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Text inside a markdown table cell or after the start of a line
/// (GitHub-flavored markdown, as in job summaries and pull-request
/// comments): one line as for a terminal, and every ASCII punctuation
/// character that markdown, GitHub's math or HTML gives a meaning
/// backslash-escaped (CommonMark lets any ASCII punctuation be), so it
/// renders as the characters it holds: no emphasis, links, images, code,
/// math, HTML, headings, list items or table cells of its own. An `@` where
/// GitHub would see a mention gets a word joiner (U+2060) after it, so
/// `@someone` shows as written without notifying anyone.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_word = false;
    for c in terminal(text).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '<' | '>' | '(' | ')' | '#' | '+' | '-' | '!' | '|'
            | '~' | '&' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '@' if !after_word => out.push_str("@\u{2060}"),
            c => out.push(c),
        }
        after_word = c.is_alphanumeric() || c == '_';
    }
    out
}

/// Text inside an HTML element or a double-quoted attribute: one line as for
/// a terminal, and `&`, `<`, `>`, `"` and `'` as character references.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in terminal(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Pretty JSON (as `serde_json::to_string_pretty` lays it out) in which no
/// control character appears raw: serde_json escapes C0 controls, and this
/// also writes DEL, C1 controls and the bidirectional controls as `\uXXXX`,
/// so the JSON is the same value, byte for byte safe on a terminal.
pub fn json_pretty<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, HiddenControlsEscaped::default());
    value.serialize(&mut serializer)?;
    // serde_json writes only whole UTF-8 strings, so this never replaces anything.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// serde_json's pretty layout, with [`is_hidden_control`] characters escaped in strings.
#[derive(Default)]
struct HiddenControlsEscaped {
    pretty: serde_json::ser::PrettyFormatter<'static>,
}

impl serde_json::ser::Formatter for HiddenControlsEscaped {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|(_, c)| is_hidden_control(*c)) {
            writer.write_all(&rest.as_bytes()[..at])?;
            // Every hidden control is in the Basic Multilingual Plane: one \u escape.
            write!(writer, "\\u{:04x}", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.pretty.begin_array(writer)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.pretty.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        self.pretty.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.pretty.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.pretty.begin_object(writer)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.pretty.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        self.pretty.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.pretty.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.pretty.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "hotfix\n::error file=x::INJECTED\r\u{1b}[31mred\u{9b}2J\u{202e}tab\there";

    #[test]
    fn terminal_text_keeps_to_one_line_without_control_characters() {
        assert_eq!(terminal(HOSTILE), "hotfix\\n::error file=x::INJECTED\\r\\u{1b}[31mred\\u{9b}2J\\u{202e}tab\\there");
        assert_eq!(terminal("plain: a\\b é 😀"), "plain: a\\b é 😀");
    }

    #[test]
    fn workflow_lines_never_read_as_commands() {
        assert_eq!(workflow_line("::stop-commands::tok"), "\\::stop-commands::tok");
        assert_eq!(workflow_line("  ::error::x"), "\\  ::error::x");
        assert_eq!(workflow_line("see ##[error]x"), "see #\\#[error]x");
        assert_eq!(workflow_line("ok: a::b"), "ok: a::b");
    }

    #[test]
    fn workflow_values_escape_what_the_runner_unescapes_and_what_ends_them() {
        assert_eq!(workflow_data("100%\nnext"), "100%25\\nnext");
        assert_eq!(workflow_property("a:b,c%"), "a%3Ab%2Cc%25");
    }

    #[test]
    fn markdown_renders_as_the_characters_it_holds() {
        assert_eq!(
            markdown("| *x* [l](u) <b>&amp; `c` # _e_ @team\nnext"),
            "\\| \\*x\\* \\[l\\]\\(u\\) \\<b\\>\\&amp; \\`c\\` \\# \\_e\\_ @\u{2060}team\\\\nnext"
        );
        assert_eq!(markdown("promotions/apps/web/00000003.json web@3"), "promotions/apps/web/00000003.json web@3");
    }

    #[test]
    fn json_is_the_same_value_with_no_control_character_raw() {
        let value = serde_json::json!({"reason": HOSTILE, "list": [1, {"a": "\u{7f}"}], "empty": []});
        let text = json_pretty(&value).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
        assert!(!text.chars().any(|c| c != '\n' && is_hidden_control(c)), "{text}");
        assert_eq!(
            text.replace(r"\u009b", "").replace(r"\u202e", "").replace(r"\u007f", ""),
            serde_json::to_string_pretty(&value).unwrap().replace(['\u{9b}', '\u{202e}', '\u{7f}'], "")
        );
    }

    #[test]
    fn html_renders_as_the_characters_it_holds() {
        assert_eq!(html("<a href='x'>\"&\u{1b}"), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;\\u{1b}");
    }
}
