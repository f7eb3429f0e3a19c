//! Escaping for the report's markup, shared by the HTML page and the SVG figures inside it.

use std::fmt::Write as _;

/// Text made safe for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters (a terminal sequence in a process name) are shown, not kept.
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            super::esc("<b a=\"x\">&'\u{1b}"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;\\u{1b}"
        );
    }
}
