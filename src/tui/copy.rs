//! Carrying out the copy and write effects of a dialog's blocks: the clipboard through the
//! terminal (OSC 52, which reaches the local terminal over SSH), and a new file.

use crate::safefs::Dir;
use std::io::Write;
use std::path::{Component, Path};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648), as OSC 52 expects.
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The sequence that puts `text` on the clipboard: `ESC ] 52 ; c ; <base64> BEL`. Inside tmux
/// it arrives only with `set -g set-clipboard on` (the help says so).
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", base64(text.as_bytes()))
}

/// Writes the copy sequence to the terminal; the note to show says what was done.
pub fn copy(out: &mut impl Write, text: &str) -> String {
    match out
        .write_all(osc52(text).as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => format!(
            "copied {} bytes via OSC 52 (your terminal must allow it; in tmux: set -g set-clipboard on)",
            text.len()
        ),
        Err(e) => format!("not copied: cannot write to the terminal: {e}"),
    }
}

/// Writes `text` to `path` as a new file (an existing file or a link there is refused, never
/// replaced or followed), atomically; the note says what was done.
pub fn write_new(path: &Path, text: &str) -> String {
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n))
            if !matches!(path.components().next_back(), Some(Component::ParentDir)) =>
        {
            (
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                },
                n,
            )
        }
        _ => return format!("not written: {} names no file", path.display()),
    };
    let Some(name) = name.to_str() else {
        return format!("not written: {} is not UTF-8", path.display());
    };
    match Dir::open(dir).and_then(|d| d.write_new(name, text.as_bytes(), 0o644)) {
        Ok(()) => format!("wrote {}", path.display()),
        Err(e) => format!("not written: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc, "{plain:?}");
        }
    }

    #[test]
    fn osc52_is_the_plain_clipboard_sequence() {
        assert_eq!(
            osc52("sysctl -w x=1\n"),
            "\x1b]52;c;c3lzY3RsIC13IHg9MQo=\x07"
        );
        let mut out = Vec::new();
        let note = copy(&mut out, "hi");
        assert_eq!(out, b"\x1b]52;c;aGk=\x07");
        assert!(note.starts_with("copied 2 bytes via OSC 52"), "{note}");
    }
}
