//! Colours and styles. With NO_COLOR every style falls back to modifiers (bold, reverse, dim)
//! and the port map to distinct glyphs, so nothing depends on colour alone.

use super::settings_error::SettingsProblem;
use crate::analyze::portmap::PortClass;
use crate::config::ColorOverrides;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone)]
pub struct Theme {
    pub color: bool,
    pub accent: Color,
    pub listener: Color,
    pub conflict: Color,
    pub outgoing: Color,
    pub reserved: Color,
    pub ephemeral: Color,
    pub free: Color,
    pub warning: Color,
}

fn parse(name: &'static str, v: Option<&String>, default: Color) -> Result<Color, SettingsProblem> {
    match v {
        None => Ok(default),
        Some(s) => s.parse::<Color>().map_err(|_| SettingsProblem::Colour {
            name,
            value: s.clone(),
        }),
    }
}

impl Theme {
    pub fn new(no_color: bool, o: &ColorOverrides) -> Result<Theme, SettingsProblem> {
        let d = Theme::defaults(no_color);
        Ok(Theme {
            color: !no_color,
            accent: parse("accent", o.accent.as_ref(), d.accent)?,
            listener: parse("listener", o.listener.as_ref(), d.listener)?,
            conflict: parse("conflict", o.conflict.as_ref(), d.conflict)?,
            outgoing: parse("outgoing", o.outgoing.as_ref(), d.outgoing)?,
            reserved: parse("reserved", o.reserved.as_ref(), d.reserved)?,
            ephemeral: parse("ephemeral", o.ephemeral.as_ref(), d.ephemeral)?,
            free: parse("free", o.free.as_ref(), d.free)?,
            warning: parse("warning", o.warning.as_ref(), d.warning)?,
        })
    }

    /// The built-in palette (or none, for NO_COLOR).
    pub fn defaults(no_color: bool) -> Theme {
        Theme {
            color: !no_color,
            accent: Color::Cyan,
            listener: Color::Green,
            conflict: Color::LightRed,
            outgoing: Color::Yellow,
            reserved: Color::LightBlue,
            ephemeral: Color::Indexed(238),
            free: Color::Indexed(235),
            warning: Color::LightYellow,
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn title(&self) -> Style {
        self.fg(self.accent).add_modifier(Modifier::BOLD)
    }

    pub fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn warn(&self) -> Style {
        self.fg(self.warning).add_modifier(Modifier::BOLD)
    }

    pub fn bad(&self) -> Style {
        self.fg(self.conflict).add_modifier(Modifier::BOLD)
    }

    pub fn good(&self) -> Style {
        self.fg(self.listener).add_modifier(Modifier::BOLD)
    }

    pub fn key(&self) -> Style {
        self.fg(self.accent).add_modifier(Modifier::BOLD)
    }

    pub fn class_color(&self, c: PortClass) -> Color {
        match c {
            PortClass::Free => self.free,
            PortClass::Ephemeral => self.ephemeral,
            PortClass::NodePort => self.accent,
            PortClass::Reserved => self.reserved,
            PortClass::Outgoing => self.outgoing,
            PortClass::Listener => self.listener,
            PortClass::Conflict => self.conflict,
        }
    }

    /// Style of a text badge or mark for a port class.
    pub fn class_style(&self, c: PortClass) -> Style {
        match c {
            PortClass::Conflict => self.bad(),
            PortClass::Free | PortClass::Ephemeral => self.dim(),
            c => self.fg(self.class_color(c)),
        }
    }

    /// How one port-map cell is drawn: (glyph, style). Without colour the glyph alone carries
    /// the class; with colour the base is the background and occupants are glyphs on it.
    pub fn map_cell(&self, base: PortClass, top: Option<PortClass>, dense: bool) -> (char, Style) {
        let glyph = match top {
            Some(PortClass::Conflict) => '!',
            Some(PortClass::Listener) => '●',
            Some(_) if dense => '•',
            Some(_) => '·',
            None => match base {
                PortClass::Reserved if !self.color => '▒',
                PortClass::Ephemeral if !self.color => '░',
                PortClass::NodePort if !self.color => ':',
                _ if !self.color => '.',
                _ => ' ',
            },
        };
        if !self.color {
            let style = match top {
                Some(PortClass::Conflict) => {
                    Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
                }
                Some(PortClass::Listener) => Style::new().add_modifier(Modifier::BOLD),
                _ => Style::new(),
            };
            return (glyph, style);
        }
        let fg = match top {
            Some(PortClass::Conflict) => Color::White,
            Some(c) => self.class_color(c),
            None => Color::Reset,
        };
        let bg = match top {
            Some(PortClass::Conflict) => self.conflict,
            _ => self.class_color(base),
        };
        (
            glyph,
            Style::new().fg(fg).bg(bg).add_modifier(Modifier::BOLD),
        )
    }
}
