//! Keys → commands. One table drives dispatch, the help screen and the footer hints, so no
//! binding ships undocumented; the config file may rebind, and a key bound twice is an error.

pub use super::key::Key;
use super::settings_error::KeymapError;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{BTreeMap, HashMap};

pub use super::commands::{Command, TABLE};

#[derive(Debug, Clone)]
pub struct KeyMap {
    bindings: HashMap<Key, Command>,
    /// Keys per command in the order they were declared: the first is the one hints show.
    declared: Vec<(Command, Vec<Key>)>,
}

impl KeyMap {
    pub fn default_map() -> KeyMap {
        let overrides = BTreeMap::new();
        // The defaults are a fixed table without duplicates; a test holds it to that.
        KeyMap::with_overrides(&overrides).unwrap_or(KeyMap {
            bindings: HashMap::new(),
            declared: Vec::new(),
        })
    }

    /// Defaults with some commands rebound (`command name → keys`). Rebinding a command replaces
    /// all of its default keys. Unknown commands, unknown keys and a key bound to two commands
    /// are errors naming them.
    pub fn with_overrides(
        overrides: &BTreeMap<String, Vec<String>>,
    ) -> Result<KeyMap, KeymapError> {
        let mut table: Vec<(Command, Vec<String>)> = TABLE
            .iter()
            .map(|d| (d.cmd, d.keys.iter().map(ToString::to_string).collect()))
            .collect();
        for (name, keys) in overrides {
            let cmd = Command::from_name(name).ok_or_else(|| KeymapError::UnknownCommand {
                name: name.clone(),
                known: TABLE.map(|d| d.name).join(", "),
            })?;
            if let Some(entry) = table.iter_mut().find(|(c, _)| *c == cmd) {
                entry.1.clone_from(keys);
            }
        }
        let mut bindings = HashMap::new();
        let mut declared = Vec::new();
        for (cmd, keys) in &table {
            let mut parsed = Vec::new();
            for k in keys {
                let key = Key::parse(k).map_err(|error| KeymapError::Key {
                    command: cmd.name(),
                    error,
                })?;
                parsed.push(key);
                if let Some(prev) = bindings.insert(key, *cmd)
                    && prev != *cmd
                {
                    return Err(KeymapError::BoundTwice {
                        key: key.to_string(),
                        first: prev.name(),
                        second: cmd.name(),
                    });
                }
            }
            declared.push((*cmd, parsed));
        }
        // There must always be a way out: quit from the views, back out of a dialog or a field.
        for needed in [Command::Quit, Command::Back] {
            if declared
                .iter()
                .any(|(c, keys)| *c == needed && keys.is_empty())
            {
                return Err(KeymapError::NoWayOut(needed.name()));
            }
        }
        Ok(KeyMap { bindings, declared })
    }

    pub fn command(&self, ev: &KeyEvent) -> Option<Command> {
        let key = Key::from_event(ev)?;
        self.bindings.get(&key).copied().or_else(|| {
            // Terminals report shifted letters either as 'G' or as shift+'g'.
            if let KeyCode::Char(c) = key.code
                && ev.modifiers.contains(KeyModifiers::SHIFT)
            {
                let upper = Key {
                    code: KeyCode::Char(c.to_ascii_uppercase()),
                    ctrl: key.ctrl,
                };
                return self.bindings.get(&upper).copied();
            }
            None
        })
    }

    /// Whether `ev` is bound to quit and is not something a text field takes as typing (a ctrl
    /// key, a function key, esc): such a quit key works everywhere, inside fields and dialogs
    /// too, so the way out never depends on what is open.
    pub fn is_quit_anywhere(&self, ev: &KeyEvent) -> bool {
        self.command(ev) == Some(Command::Quit)
            && Key::from_event(ev).is_some_and(|k| k.ctrl || !matches!(k.code, KeyCode::Char(_)))
    }

    /// Keys bound to a command, for help and hints.
    pub fn keys_for(&self, cmd: Command) -> Vec<Key> {
        self.declared
            .iter()
            .find(|(c, _)| *c == cmd)
            .map(|(_, keys)| keys.clone())
            .unwrap_or_default()
    }

    /// "q" or "?/F1": how hints name a command's keys.
    pub fn label(&self, cmd: Command) -> String {
        self.keys_for(cmd)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// (keys, command, help) for every command, in help order.
    pub fn help_rows(&self) -> Vec<(String, Command, &'static str)> {
        TABLE
            .iter()
            .map(|d| (self.label(d.cmd), d.cmd, d.help))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyCode;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn defaults_have_no_duplicates_and_every_command_a_key() {
        let m = KeyMap::with_overrides(&BTreeMap::new()).expect("defaults are valid");
        for d in TABLE {
            assert!(!m.keys_for(d.cmd).is_empty(), "{:?} has no key", d.cmd);
        }
    }

    #[test]
    fn dispatch_vim_keys_arrows_and_shift() {
        let m = KeyMap::default_map();
        assert_eq!(
            m.command(&ev(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Command::Down)
        );
        assert_eq!(
            m.command(&ev(KeyCode::Down, KeyModifiers::NONE)),
            Some(Command::Down)
        );
        assert_eq!(
            m.command(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Command::Bottom)
        );
        assert_eq!(
            m.command(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        assert_eq!(
            m.command(&ev(KeyCode::Char('K'), KeyModifiers::SHIFT)),
            Some(Command::Kill)
        );
        assert_eq!(
            m.command(&ev(KeyCode::Char('k'), KeyModifiers::NONE)),
            Some(Command::Up)
        );
        assert_eq!(m.command(&ev(KeyCode::Char('z'), KeyModifiers::NONE)), None);
    }

    #[test]
    fn ctrl_with_a_capital_letter_fires() {
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), vec!["ctrl-Q".to_string()]);
        let m = KeyMap::with_overrides(&o).unwrap();
        // What crossterm reports for byte 0x11, and for ctrl+shift+q under keyboard protocols.
        for ev in [
            ev(KeyCode::Char('q'), KeyModifiers::CONTROL),
            ev(
                KeyCode::Char('Q'),
                KeyModifiers::CONTROL | KeyModifiers::SHIFT,
            ),
        ] {
            assert_eq!(m.command(&ev), Some(Command::Quit), "{ev:?}");
            assert!(m.is_quit_anywhere(&ev));
        }
        assert!(
            !KeyMap::default_map().is_quit_anywhere(&ev(KeyCode::Char('q'), KeyModifiers::NONE))
        );
        assert_eq!(m.label(Command::Quit), "ctrl-q");
    }

    #[test]
    fn overrides_and_their_errors() {
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), vec!["x".to_string()]);
        let m = KeyMap::with_overrides(&o).unwrap();
        assert_eq!(
            m.command(&ev(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Command::Quit)
        );
        assert_eq!(m.command(&ev(KeyCode::Char('q'), KeyModifiers::NONE)), None);
        o.insert("help".to_string(), vec!["x".to_string()]);
        let err = KeyMap::with_overrides(&o).unwrap_err().to_string();
        assert!(err.contains("key x is bound to both"), "{err}");
        let mut o = BTreeMap::new();
        o.insert("explode".to_string(), vec!["x".to_string()]);
        assert!(
            KeyMap::with_overrides(&o)
                .unwrap_err()
                .to_string()
                .contains("unknown command \"explode\"")
        );
        for (cmd, keys, needle) in [
            ("quit", vec![], "no way out"),
            ("back", vec![], "no way out"),
            ("help", vec!["ctrl-i"], "reaches portscope as tab"),
            ("help", vec!["ctrl-m"], "reaches portscope as enter"),
            ("help", vec!["ctrl-enter"], "cannot be sent"),
            ("help", vec!["ctrl-1"], "cannot be sent"),
            ("help", vec!["F13"], "F1 to F12"),
            ("help", vec!["\t"], "unknown key"),
        ] {
            let mut o = BTreeMap::new();
            o.insert(
                cmd.to_string(),
                keys.iter().map(|k: &&str| k.to_string()).collect(),
            );
            let err = KeyMap::with_overrides(&o).unwrap_err().to_string();
            assert!(err.contains(needle), "{cmd} = {keys:?}: {err}");
        }
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), vec!["hyper-q".to_string()]);
        assert!(
            KeyMap::with_overrides(&o)
                .unwrap_err()
                .to_string()
                .contains("unknown key")
        );
    }
}
