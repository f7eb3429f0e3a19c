//! Text from other processes, made safe to show.
//!
//! Any user can name a process `\r\e[2K\e[1A` (and vanish from root's table), put an OSC title
//! sequence in its command line, or hide a word behind a right-to-left override. Everything
//! such a process controls (comm, command line, unit and container names, user names from a
//! directory service) is held in [`Foreign`], whose `Display` is the one escaping function
//! below; the exact bytes are only reachable through [`Foreign::raw`] (matching, JSON, acting).
//! The CLI's stdout/stderr sink ([`crate::cli::out`]) runs [`escape_lines`] over every text it
//! writes, so text that did not come through a `Foreign` (a path, a kernel error) cannot move
//! the cursor either.
//!
//! The scheme, like `ls -b` (documented in the README):
//! `\e` ESC, `\r` `\n` `\t`, `\\` a backslash (in foreign fields, so `\e` is never ambiguous),
//! `\xHH` any other C0 control or DEL, `\u{HHHH}` C1 controls, bidi overrides/isolates and
//! invisible characters (zero-width space/joiners, BOM, word joiner, line/paragraph
//! separators, tag characters). Bytes that are not UTF-8 were replaced by U+FFFD when read.
//! JSON output is not escaped here: serde writes the exact text.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// Characters a terminal acts on or that make text read differently from what it is.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}'
        // Bidi: ALM, LRM/RLM, embeddings/overrides, isolates.
        | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // Invisible: zero-width space/joiners, word joiner and invisible operators, BOM,
        // interlinear annotation, line/paragraph separators, soft hyphen, tags.
        | '\u{00ad}' | '\u{200b}'..='\u{200d}' | '\u{2028}' | '\u{2029}' | '\u{2060}'..='\u{2064}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write as _;
    match c {
        '\x1b' => out.push_str("\\e"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\0'..='\x1f' | '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        _ => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
}

/// The escaping of one field from another process: every character that could act on a
/// terminal or hide itself is shown as an escape, and a backslash as `\\`.
pub fn escape_field(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The same for whole lines of output: newlines stay, backslashes stay (fields were already
/// escaped, and portscope's own text has none that matter).
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    escape_except(s, Some('\n'))
}

/// One line of screen text (a TUI line, a dialog line) made of portscope's words and escaped
/// fields: every control character, a newline included, is shown; backslashes stay.
pub fn escape_line(s: &str) -> Cow<'_, str> {
    escape_except(s, None)
}

fn escape_except(s: &str, keep: Option<char>) -> Cow<'_, str> {
    // ASCII text (every row of a socket table) is checked a byte at a time: of ASCII, only the
    // C0 controls and DEL need escaping.
    let clean = if s.is_ascii() {
        !s.bytes()
            .any(|b| (b < 0x20 || b == 0x7f) && Some(char::from(b)) != keep)
    } else {
        !s.chars().any(|c| Some(c) != keep && needs_escape(c))
    };
    if clean {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if Some(c) != keep && needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text that another process (or a file it controls) chose. Shown escaped; the exact text is
/// [`Foreign::raw`], which only matching, JSON and actions should use.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Foreign(String);

impl Foreign {
    pub fn new(s: impl Into<String>) -> Foreign {
        Foreign(s.into())
    }

    /// The exact text, unescaped: never print it.
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// The escaped text, as shown.
    pub fn shown(&self) -> Cow<'_, str> {
        escape_field(&self.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Foreign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // pad, so that `{:<10}` aligns the escaped text.
        f.pad(&escape_field(&self.0))
    }
}

impl fmt::Debug for Foreign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl From<String> for Foreign {
    fn from(s: String) -> Foreign {
        Foreign(s)
    }
}

impl From<&str> for Foreign {
    fn from(s: &str) -> Foreign {
        Foreign(s.to_string())
    }
}

impl PartialEq<str> for Foreign {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Foreign {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_become_visible() {
        let hostile = "\r\x1b[2K\x1b[1A";
        assert_eq!(escape_field(hostile), "\\r\\e[2K\\e[1A");
        assert_eq!(
            escape_field("\x1b]0;owned\x07x"),
            "\\e]0;owned\\x07x",
            "OSC title"
        );
        assert_eq!(escape_field("a\tb\nc\x7f"), "a\\tb\\nc\\x7f");
        assert_eq!(escape_field("\u{9b}2J"), "\\u{009b}2J", "C1 CSI");
        assert_eq!(
            escape_field("evil\u{202e}txt.exe\u{200b}"),
            "evil\\u{202e}txt.exe\\u{200b}"
        );
        assert_eq!(
            escape_field("C:\\e"),
            "C:\\\\e",
            "a literal backslash is doubled"
        );
        assert_eq!(escape_field("nginx: worker é 中"), "nginx: worker é 中");
        assert!(matches!(escape_field("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn lines_keep_newlines_and_backslashes() {
        assert_eq!(escape_lines("a\x1b[2J\nb\\c\r\n"), "a\\e[2J\nb\\c\\r\n");
        assert_eq!(escape_line("a\nb\\c\x1b"), "a\\nb\\c\\e");
    }

    #[test]
    fn foreign_displays_escaped_and_serializes_exactly() {
        let f = Foreign::from("x\x1b]0;t\x07");
        assert_eq!(f.to_string(), "x\\e]0;t\\x07");
        assert_eq!(
            format!("[{:<12}]", Foreign::from("\x1b")),
            "[\\e          ]"
        );
        assert_eq!(f.raw(), "x\x1b]0;t\x07");
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, "\"x\\u001b]0;t\\u0007\"");
        let back: Foreign = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
    }
}
