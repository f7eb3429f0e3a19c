//! Lines of a dialog or outcome that say what they are, so a surface styles them by kind
//! (never because a text happens to start with "warning"), and blocks of text meant to be
//! copied, kept whole so no surface wraps them into broken lines.

use std::fmt;

/// What a line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The question or headline (a dialog's first line).
    Heading,
    Plain,
    /// A risk the reader should weigh before saying yes.
    Warning,
    /// A fact about how the action is carried out (its safeguards, where it is logged).
    Note,
    /// A command or other text quoted as it is to be typed.
    Command,
}

/// One line of text and what it is. Its text is what the CLI prints, indentation included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: Kind,
    pub text: String,
}

impl Line {
    pub fn new(kind: Kind, text: impl Into<String>) -> Line {
        Line {
            kind,
            text: text.into(),
        }
    }

    pub fn heading(text: impl Into<String>) -> Line {
        Line::new(Kind::Heading, text)
    }

    pub fn warning(text: impl Into<String>) -> Line {
        Line::new(Kind::Warning, text)
    }

    pub fn note(text: impl Into<String>) -> Line {
        Line::new(Kind::Note, text)
    }

    pub fn command(text: impl Into<String>) -> Line {
        Line::new(Kind::Command, text)
    }
}

impl From<String> for Line {
    fn from(text: String) -> Line {
        Line::new(Kind::Plain, text)
    }
}

impl From<&str> for Line {
    fn from(text: &str) -> Line {
        Line::new(Kind::Plain, text)
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Text meant to be copied or saved as it is (commands, a sysctl.d file, an Ansible task):
/// shown unwrapped, offered for copying (OSC 52) and for writing to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// What the text is, shown above it ("Run these as root instead:").
    pub label: String,
    /// The text itself, lines separated by `\n`, no trailing newline needed.
    pub text: String,
    /// A file name to offer when it is written out ("portscope-reservation.yml").
    pub file_name: String,
}

impl Block {
    pub fn new(
        label: impl Into<String>,
        text: impl Into<String>,
        file_name: impl Into<String>,
    ) -> Block {
        Block {
            label: label.into(),
            text: text.into(),
            file_name: file_name.into(),
        }
    }

    /// The block's lines (an empty text is one empty line, so it still takes a row).
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        let t = self.text.strip_suffix('\n').unwrap_or(&self.text);
        t.split('\n')
    }

    /// The text as written to a file or copied: ends with exactly one newline.
    pub fn file_text(&self) -> String {
        let mut t = self.text.trim_end_matches('\n').to_string();
        t.push('\n');
        t
    }
}

/// What a confirmation dialog shows: a title, the lines, and any text to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub title: String,
    pub lines: Vec<Line>,
    /// Commands the lines mention, whole, for copying (the lines already quote them, so a
    /// surface that cannot copy need not repeat them).
    pub blocks: Vec<Block>,
}

impl Described {
    pub fn new(title: impl Into<String>, lines: Vec<Line>) -> Described {
        Described {
            title: title.into(),
            lines,
            blocks: Vec::new(),
        }
    }

    /// The lines' texts.
    pub fn text(&self) -> Vec<String> {
        self.lines.iter().map(|l| l.text.clone()).collect()
    }

    /// The first line's text ("" when there is none).
    pub fn first(&self) -> &str {
        self.lines.first().map_or("", |l| l.text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_is_a_plain_line_and_prints_as_its_text() {
        let l: Line = format!("  it holds {} other connections", 3).into();
        assert_eq!(l.kind, Kind::Plain);
        assert_eq!(l.to_string(), "  it holds 3 other connections");
        let w = Line::warning("  warning: systemd may restart it");
        assert_eq!(w.kind, Kind::Warning);
        assert_eq!(format!("  {w}"), "    warning: systemd may restart it");
    }

    #[test]
    fn the_kind_comes_from_the_producer_not_the_text() {
        // A plain line that starts with "warning" stays plain.
        let l = Line::from("warning-free port");
        assert_eq!(l.kind, Kind::Plain);
        let n = Line::note("nothing here looks like a warning");
        assert_eq!(n.kind, Kind::Note);
    }

    #[test]
    fn block_lines_and_file_text() {
        let b = Block::new("Run:", "a\nb\n\n", "x.sh");
        assert_eq!(b.lines().collect::<Vec<_>>(), ["a", "b", ""]);
        assert_eq!(b.file_text(), "a\nb\n");
        let one = Block::new("Run:", "echo hi", "x.sh");
        assert_eq!(one.lines().collect::<Vec<_>>(), ["echo hi"]);
        assert_eq!(one.file_text(), "echo hi\n");
        let empty = Block::new("Run:", "", "x.sh");
        assert_eq!(empty.lines().count(), 1);
    }
}
