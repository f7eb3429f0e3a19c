//! One key as the config file writes it and as help shows it, and which keys a terminal can
//! actually send.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::fmt;

/// A key as written in the config file and shown in help: `q`, `?`, `ctrl-c`, `tab`, `space`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
}

/// KeyCode subset with an order (for stable help output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Backspace,
    Delete,
    F(u8),
}

impl Key {
    pub fn parse(s: &str) -> Result<Key, String> {
        let lower = s.to_ascii_lowercase();
        let (ctrl, rest) = match lower
            .strip_prefix("ctrl-")
            .or_else(|| lower.strip_prefix("c-"))
        {
            Some(r) => (true, r.to_string()),
            None => (false, lower.clone()),
        };
        let code = match rest.as_str() {
            "enter" | "return" => KeyCodeOrd::Enter,
            "esc" | "escape" => KeyCodeOrd::Esc,
            "tab" => KeyCodeOrd::Tab,
            "backtab" | "shift-tab" => KeyCodeOrd::BackTab,
            "up" => KeyCodeOrd::Up,
            "down" => KeyCodeOrd::Down,
            "left" => KeyCodeOrd::Left,
            "right" => KeyCodeOrd::Right,
            "pgup" | "pageup" => KeyCodeOrd::PageUp,
            "pgdown" | "pagedown" => KeyCodeOrd::PageDown,
            "home" => KeyCodeOrd::Home,
            "end" => KeyCodeOrd::End,
            "backspace" => KeyCodeOrd::Backspace,
            "delete" | "del" => KeyCodeOrd::Delete,
            "space" => KeyCodeOrd::Char(' '),
            f if f.starts_with('f') && f.len() > 1 && f[1..].parse::<u8>().is_ok() => {
                match f[1..].parse::<u8>() {
                    // What terminals send (and crossterm reads) without a keyboard protocol.
                    Ok(n @ 1..=12) => KeyCodeOrd::F(n),
                    _ => return Err(format!("unknown key {s:?} (function keys are F1 to F12)")),
                }
            }
            _ => {
                // Single characters keep their case: `G` and `g` are different keys.
                let original = if ctrl { &s[s.len() - rest.len()..] } else { s };
                let mut chars = original.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => KeyCodeOrd::Char(c),
                    _ => return Err(format!("unknown key {s:?}")),
                }
            }
        };
        Key { code, ctrl }.reachable(s)
    }

    /// A terminal sends ctrl with a letter as one control byte, whatever the case: `ctrl-Q` is
    /// `ctrl-q`. Keys a terminal cannot send (or sends as another key) are refused, so that a
    /// binding never silently does nothing.
    fn reachable(self, written: &str) -> Result<Key, String> {
        if !self.ctrl {
            return Ok(self);
        }
        let same_as = |other: &str| {
            Err(format!(
                "key {written:?} reaches portscope as {other}: bind {other} instead"
            ))
        };
        match self.code {
            KeyCodeOrd::Char('i' | 'I') => same_as("tab"),
            KeyCodeOrd::Char('m' | 'M') => same_as("enter"),
            KeyCodeOrd::Char('[') => same_as("esc"),
            KeyCodeOrd::Char(c) if c.is_ascii_alphabetic() => Ok(Key {
                code: KeyCodeOrd::Char(c.to_ascii_lowercase()),
                ctrl: true,
            }),
            KeyCodeOrd::Char(' ' | '4'..='7') => Ok(self),
            KeyCodeOrd::Char(_)
            | KeyCodeOrd::Enter
            | KeyCodeOrd::Esc
            | KeyCodeOrd::Tab
            | KeyCodeOrd::BackTab
            | KeyCodeOrd::Backspace => Err(format!(
                "key {written:?} cannot be sent by a terminal (ctrl goes with a letter, space, \
                 an arrow, home/end, pgup/pgdown, delete or F1-F12)"
            )),
            _ => Ok(self),
        }
    }

    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::F(n) => KeyCodeOrd::F(n),
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
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::Enter => f.write_str("enter"),
            KeyCodeOrd::Esc => f.write_str("esc"),
            KeyCodeOrd::Tab => f.write_str("tab"),
            KeyCodeOrd::BackTab => f.write_str("shift-tab"),
            KeyCodeOrd::Up => f.write_str("↑"),
            KeyCodeOrd::Down => f.write_str("↓"),
            KeyCodeOrd::Left => f.write_str("←"),
            KeyCodeOrd::Right => f.write_str("→"),
            KeyCodeOrd::PageUp => f.write_str("pgup"),
            KeyCodeOrd::PageDown => f.write_str("pgdown"),
            KeyCodeOrd::Home => f.write_str("home"),
            KeyCodeOrd::End => f.write_str("end"),
            KeyCodeOrd::Backspace => f.write_str("backspace"),
            KeyCodeOrd::Delete => f.write_str("delete"),
            KeyCodeOrd::F(n) => write!(f, "F{n}"),
        }
    }
}
