//! Keys as less, htop and k9s users expect them: `n`/`N` walk the filter's matches, and a key
//! that does nothing where it was pressed says so instead of being silently ignored.

use super::{App, View};
use crate::tui::commands::{Views, view_words};
use crate::tui::keymap::{Command, Key};
use crossterm::event::KeyEvent;

/// Why `cmd` does nothing where it was pressed, or `None` when it does something there. Which
/// views a command works in is its row of `commands::TABLE`; what depends on state is here.
pub fn unavailable(app: &App, cmd: Command) -> Option<String> {
    let key = app.keymap.label(cmd);
    // In Connections the arrows fold and unfold groups: with grouping on only.
    if matches!(cmd, Command::Left | Command::Right)
        && app.view == View::Connections
        && app.conns.group.is_none()
    {
        return Some(format!(
            "{key}: folds and unfolds groups ({} groups connections)",
            app.keymap.label(Command::Group)
        ));
    }
    match cmd.views() {
        Views::Only(views, does) if !views.contains(&app.view) => {
            Some(format!("{key}: {does} in {} only", view_words(views)))
        }
        Views::Only(..) | Views::All => None,
    }
}

/// The status line for a key bound to nothing.
pub fn unknown(ev: &KeyEvent) -> String {
    match Key::from_event(ev) {
        Some(k) => format!("{k}: not a key here (? lists them)"),
        None => "not a key here (? lists them)".into(),
    }
}

/// Moves to the next (or previous) row matching the filter, wrapping around as less does.
/// The tables show only matches, so this is the row after the cursor; without a filter there is
/// nothing to match and the status line says how to search. The `Err` is that status line, a
/// note for the footer rather than an error: nothing failed.
pub fn step_match(app: &App, forward: bool) -> Result<usize, String> {
    if app.filter_text().trim().is_empty() {
        return Err(format!(
            "no search: {} filters, then {} / {} walk the matches",
            app.keymap.label(Command::Filter),
            app.keymap.label(Command::NextMatch),
            app.keymap.label(Command::PrevMatch)
        ));
    }
    let (len, cur) = match app.view {
        View::Listeners => (app.listeners.rows.len(), app.listeners.nav.selected),
        View::Connections => (app.conns.lines.len(), app.conns.nav.selected),
        _ => return Err("no matches in this view".into()),
    };
    if len == 0 {
        return Err(format!("nothing matches {:?}", app.filter_text()));
    }
    Ok(if forward {
        (cur + 1) % len
    } else {
        (cur + len - 1) % len
    })
}
