//! The TUI's part of the config file: its `[keys]` and `[colors]`, which [`crate::config`]
//! reads as written, made into the key map and the theme here, where keys and colours are known.

use super::keymap::KeyMap;
use super::settings_error::SettingsError;
use super::theme::Theme;
use crate::config::Config;

pub struct Settings {
    pub keymap: KeyMap,
    pub theme: Theme,
}

/// The key map and theme `config` asks for, or what is wrong with them, naming the file.
pub fn settings(config: &Config, no_color: bool) -> Result<Settings, SettingsError> {
    let wrong = |problem| SettingsError {
        file: config.file.clone(),
        problem,
    };
    Ok(Settings {
        keymap: KeyMap::with_overrides(&config.keys).map_err(|e| wrong(e.into()))?,
        theme: Theme::new(no_color, &config.colors).map_err(wrong)?,
    })
}
