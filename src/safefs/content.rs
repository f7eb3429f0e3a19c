//! What stood at a name before portscope changed it, kept exactly (bytes, mode, or a link).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::path::PathBuf;

/// File content as bytes that survive a JSON round trip exactly: text when it is UTF-8, hex
/// otherwise (sysctl reads bytes, so a file that is not UTF-8 is still a configuration file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "BytesRepr", from = "BytesRepr")]
pub struct Bytes(pub Vec<u8>);

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum BytesRepr {
    Text(String),
    Hex { hex: String },
}

impl From<Bytes> for BytesRepr {
    fn from(b: Bytes) -> Self {
        match String::from_utf8(b.0) {
            Ok(s) => BytesRepr::Text(s),
            Err(e) => BytesRepr::Hex {
                hex: e.as_bytes().iter().fold(String::new(), |mut s, b| {
                    _ = write!(s, "{b:02x}");
                    s
                }),
            },
        }
    }
}

impl From<BytesRepr> for Bytes {
    fn from(r: BytesRepr) -> Self {
        match r {
            BytesRepr::Text(s) => Bytes(s.into_bytes()),
            // A damaged hex string decodes as far as it is valid; the journal's own checks
            // (what is on disk now must equal what was recorded) catch any difference.
            BytesRepr::Hex { hex } => Bytes(
                hex.as_bytes()
                    .chunks(2)
                    .filter_map(|c| std::str::from_utf8(c).ok())
                    .filter_map(|c| u8::from_str_radix(c, 16).ok())
                    .collect(),
            ),
        }
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl Bytes {
    pub fn lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

/// What stands at a name in a directory, without following it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Existing {
    Absent,
    File {
        content: Bytes,
        mode: u32,
    },
    /// A link is recorded as a link: putting it back restores the link, never its target's bytes.
    Symlink {
        target: PathBuf,
    },
}

impl Existing {
    /// How it reads in a sentence.
    pub fn describe(&self) -> String {
        match self {
            Existing::Absent => "absent".into(),
            Existing::File { content, .. } => format!("a file of {} bytes", content.0.len()),
            Existing::Symlink { target } => format!("a symbolic link to {}", target.display()),
        }
    }

    pub fn content(&self) -> Option<&[u8]> {
        match self {
            Existing::File { content, .. } => Some(&content.0),
            _ => None,
        }
    }
}
