//! One key as the config file writes it and as help shows it, and which keys a terminal can
//! actually send.

use super::settings_error::KeyError;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::fmt;

/// A key as written in the config file and shown in help: `q`, `?`, `ctrl-c`, `tab`, `space`.
/// The code is crossterm's own (only the codes [`Key::parse`] accepts and terminals send
/// without a keyboard protocol); ctrl is the one modifier a binding can carry (shift is in the
/// character, alt is read as esc first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub fn parse(s: &str) -> Result<Key, KeyError> {
        let lower = s.to_ascii_lowercase();
        let (ctrl, rest) = match lower
            .strip_prefix("ctrl-")
            .or_else(|| lower.strip_prefix("c-"))
        {
            Some(r) => (true, r.to_string()),
            None => (false, lower.clone()),
        };
        let code = match rest.as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" | "shift-tab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdown" | "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "space" => KeyCode::Char(' '),
            f if f.starts_with('f') && f.len() > 1 && f[1..].parse::<u8>().is_ok() => {
                match f[1..].parse::<u8>() {
                    // What terminals send (and crossterm reads) without a keyboard protocol.
                    Ok(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(KeyError::FunctionKey(s.to_string())),
                }
            }
            _ => {
                // Single characters keep their case: `G` and `g` are different keys.
                let original = if ctrl { &s[s.len() - rest.len()..] } else { s };
                let mut chars = original.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => KeyCode::Char(c),
                    _ => return Err(KeyError::Unknown(s.to_string())),
                }
            }
        };
        Key { code, ctrl }.reachable(s)
    }

    /// A terminal sends ctrl with a letter as one control byte, whatever the case: `ctrl-Q` is
    /// `ctrl-q`. Keys a terminal cannot send (or sends as another key) are refused, so that a
    /// binding never silently does nothing.
    fn reachable(self, written: &str) -> Result<Key, KeyError> {
        if !self.ctrl {
            return Ok(self);
        }
        let same_as = |other| {
            Err(KeyError::SameAs {
                written: written.to_string(),
                other,
            })
        };
        match self.code {
            KeyCode::Char('i' | 'I') => same_as("tab"),
            KeyCode::Char('m' | 'M') => same_as("enter"),
            KeyCode::Char('[') => same_as("esc"),
            KeyCode::Char(c) if c.is_ascii_alphabetic() => Ok(Key {
                code: KeyCode::Char(c.to_ascii_lowercase()),
                ctrl: true,
            }),
            KeyCode::Char(' ' | '4'..='7') => Ok(self),
            KeyCode::Char(_)
            | KeyCode::Enter
            | KeyCode::Esc
            | KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Backspace => Err(KeyError::Unsendable(written.to_string())),
            _ => Ok(self),
        }
    }

    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let code = match ev.code {
            KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
            code @ (KeyCode::Char(_)
            | KeyCode::Enter
            | KeyCode::Esc
            | KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Up
            | KeyCode::Down
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::PageUp
            | KeyCode::PageDown
            | KeyCode::Home
            | KeyCode::End
            | KeyCode::Backspace
            | KeyCode::Delete
            | KeyCode::F(_)) => code,
            _ => return None,
        };
        Some(Key { code, ctrl })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdown"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::F(n) => write!(f, "F{n}"),
            // Never built: parse and from_event accept only the codes above.
            other => write!(f, "{}", format!("{other:?}").to_lowercase()),
        }
    }
}
