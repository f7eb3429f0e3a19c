//! The man pages' own text (assets/man/*.md) in roff: a small Markdown subset, so the same
//! words read well in the repository and in man(1).
//!
//! `# NAME` is a section, `## name` a subsection, a blank line a paragraph, a ``` fence a block
//! shown as is, `- ` a bullet, a table row `| term | text |` a tagged paragraph (the header row
//! and its `|---|` rule are dropped), `` `code` `` and `**strong**` bold, `*emphasis*` italic.
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

/// One section of a page's text: its heading and its Markdown body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub body: String,
}

/// Splits a page's Markdown at its `# ` headings (text before the first is dropped: a title).
pub fn sections(md: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && let Some(name) = line.strip_prefix("# ") {
            out.push(Section {
                name: name.trim().to_uppercase(),
                body: String::new(),
            });
        } else if let Some(s) = out.last_mut() {
            s.body.push_str(line);
            s.body.push('\n');
        }
    }
    out
}

/// Escapes text for roff: backslashes, and anything beyond ASCII as a named glyph (`\[u2014]`),
/// which groff reads whatever the locale (man-db's preconv does the same).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            c if c.is_ascii() => out.push(c),
            c => _ = write!(out, "\\[u{:04X}]", u32::from(c)),
        }
    }
    out
}

fn line_safe(line: &str) -> String {
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line.to_string()
    }
}

/// Inline markup: code and strong in bold, emphasis in italic, links as their text. A hyphen in
/// code is `\-` (a minus: `--json` must paste as typed).
pub fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '`'
            && let Some(end) = rest[1..].find('`')
        {
            let code = escape(&rest[1..=end]).replace('-', "\\-");
            _ = write!(out, "\\fB{code}\\fR");
            rest = &rest[end + 2..];
        } else if rest.starts_with("**")
            && let Some(end) = rest[2..].find("**")
        {
            _ = write!(out, "\\fB{}\\fR", escape(&rest[2..2 + end]));
            rest = &rest[end + 4..];
        } else if c == '*'
            && rest.len() > 2
            && !rest[1..].starts_with(' ')
            && let Some(end) = rest[1..].find('*')
            && end > 0
        {
            _ = write!(out, "\\fI{}\\fR", escape(&rest[1..=end]));
            rest = &rest[end + 2..];
        } else if c == '['
            && let Some(close) = rest.find("](")
            && let Some(paren) = rest[close..].find(')')
        {
            out.push_str(&escape(&rest[1..close]));
            rest = &rest[close + paren + 1..];
        } else {
            out.push_str(&escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The cells of a table row, or `None` when the line is not one.
fn cells(line: &str) -> Option<Vec<String>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    // `\|` inside a cell is a literal bar.
    Some(
        inner
            .replace("\\|", "\u{0}")
            .split('|')
            .map(|c| c.trim().replace('\u{0}', "|"))
            .collect(),
    )
}

fn is_rule(line: &str) -> bool {
    cells(line).is_some_and(|c| {
        c.iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| "-:".contains(ch)))
    })
}

/// A section body in roff.
pub fn body(md: &str) -> String {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = String::new();
    let mut para = String::new();
    let flush = |para: &mut String, out: &mut String| {
        if !para.is_empty() {
            out.push_str(&line_safe(&inline(para.trim())));
            out.push('\n');
            para.clear();
        }
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("```") {
            flush(&mut para, &mut out);
            out.push_str(".PP\n.RS 4\n.nf\n");
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                out.push_str(&line_safe(&escape(lines[i]).replace('-', "\\-")));
                out.push('\n');
                i += 1;
            }
            out.push_str(".fi\n.RE\n");
        } else if let Some(row) = cells(line) {
            flush(&mut para, &mut out);
            let header = lines.get(i + 1).is_some_and(|l| is_rule(l));
            if header {
                i += 1;
            } else if !is_rule(line) {
                let term = row.first().cloned().unwrap_or_default();
                let text = row[1..].join(" \u{2014} ");
                _ = write!(
                    out,
                    ".TP\n{}\n{}\n",
                    line_safe(&inline(&term)),
                    line_safe(&inline(&text))
                );
            }
        } else if let Some(sub) = line.strip_prefix("## ") {
            flush(&mut para, &mut out);
            _ = writeln!(out, ".SS \"{}\"", inline(sub.trim()));
        } else if line.trim().is_empty() {
            flush(&mut para, &mut out);
            if !out.is_empty() && !out.ends_with(".PP\n") {
                out.push_str(".PP\n");
            }
        } else if let Some(item) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            flush(&mut para, &mut out);
            out.push_str(".IP \\(bu 2\n");
            para.push_str(item);
            para.push(' ');
        } else {
            para.push_str(line.trim());
            para.push(' ');
        }
        i += 1;
    }
    flush(&mut para, &mut out);
    while out.ends_with(".PP\n") {
        out.truncate(out.len() - 4);
    }
    out
}

/// A whole section: heading and body.
pub fn section(name: &str, md: &str) -> String {
    format!(".SH \"{}\"\n{}", escape(name), body(md))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_roff() {
        assert_eq!(
            inline("use `--json` or **this**, *not* [that](http://x)"),
            "use \\fB\\-\\-json\\fR or \\fBthis\\fR, \\fInot\\fR that"
        );
        assert_eq!(inline("a\\b"), "a\\eb");
        let r = body(
            "text\n.starts with a dot\n\n- one\n- two\n\n| a | b |\n|---|---|\n| `x` | y \\| z |\n\n```\n.x -y\n```\n",
        );
        assert!(
            r.contains("text \\&.starts") || r.contains("text .starts"),
            "{r}"
        );
        assert!(r.contains(".IP \\(bu 2\none\n"), "{r}");
        assert!(r.contains(".TP\n\\fBx\\fR\ny | z\n"), "{r}");
        assert!(!r.contains("\na\n"), "the header row is dropped: {r}");
        assert!(r.contains(".nf\n\\&.x \\-y\n.fi"), "{r}");
    }

    #[test]
    fn sections_split_at_headings_outside_fences() {
        let s = sections("title\n# Exit status\n0 ok\n```\n# not a heading\n```\n# EXAMPLES\nx\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "EXIT STATUS");
        assert!(s[0].body.contains("# not a heading"));
    }
}
