//! Text from other processes (command names, command lines) before it reaches a terminal.
//!
//! A process names itself; a name with escape sequences could rewrite the user's screen. This is
//! the watch/history branch's local helper: swap it for the shared `Foreign` type on merge.

/// Control characters (and DEL, and the C1 range) as `\xNN` / `\u{NN}`; a backslash doubled.
pub fn foreign(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(super::foreign("nginx"), "nginx");
        assert_eq!(super::foreign("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(super::foreign("x\ny\u{9b}"), "x\\x0ay\\u{9b}");
        assert_eq!(super::foreign("a\\b"), "a\\\\b");
    }
}
