//! The copyable blocks of the dialog on top (commands, a sysctl.d file, an Ansible task): which
//! one is selected, how far it is scrolled, and the keys that copy it or write it to a file.
//! Copying and writing are effects: the runtime does them and reports back with a note.

use super::{App, Effect, Modal, Mode};
use crate::escape::escape_line;
use crate::model::text::Block;
use crate::tui::keymap::Command;
use crossterm::event::{Event, KeyCode, KeyEvent};
use std::path::PathBuf;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// Columns one left/right press scrolls a block.
const H_STEP: u16 = 8;

/// How the dialog's blocks are shown; reset whenever a dialog opens.
#[derive(Debug, Default)]
pub struct BlockView {
    pub selected: usize,
    /// First column shown of the selected block.
    pub hscroll: u16,
    /// First line shown of the selected block.
    pub vscroll: u16,
    /// The path being typed after `w`, while it is.
    pub write: Option<Input>,
}

/// A block's text as shown and as copied: each line escaped, so what is copied (and later
/// pasted into a shell) is exactly what was on screen, never a hidden control character.
pub fn shown_text(b: &Block) -> String {
    let mut out = String::new();
    for l in b.lines() {
        out.push_str(&escape_line(l));
        out.push('\n');
    }
    out
}

/// The blocks of a dialog (none for dialogs without them).
pub fn of(modal: &Modal) -> &[Block] {
    match modal {
        Modal::Outcome(o) => &o.blocks,
        Modal::Confirm { blocks, .. } | Modal::Text { blocks, .. } => blocks,
        _ => &[],
    }
}

impl App {
    /// Keys for the blocks of the dialog on top: `None` when the key is not theirs (the
    /// dialog's own keys then apply).
    pub(super) fn on_block_key(&mut self, ev: KeyEvent) -> Option<Vec<Effect>> {
        let cmd = self.keymap.command(&ev);
        let Mode::Modal(modal) = &self.mode else {
            return None;
        };
        let blocks = of(modal);
        if blocks.is_empty() {
            return None;
        }
        let n = blocks.len();
        let sel = self.blocks.selected.min(n - 1);
        let block = &blocks[sel];
        let rows = crate::tui::u16_sat(block.lines().count());
        // The prompt for a path has every key while it is open.
        if let Some(input) = &mut self.blocks.write {
            match ev.code {
                KeyCode::Esc => {
                    self.blocks.write = None;
                    self.note = Some("not written".into());
                }
                KeyCode::Enter => {
                    let path = PathBuf::from(input.value().trim());
                    let text = shown_text(block);
                    self.blocks.write = None;
                    if path.as_os_str().is_empty() {
                        self.note = Some("no file name given: nothing was written".into());
                        return Some(Vec::new());
                    }
                    return Some(vec![Effect::WriteFile { path, text }]);
                }
                _ => {
                    input.handle_event(&Event::Key(ev));
                }
            }
            return Some(Vec::new());
        }
        let view = &mut self.blocks;
        match (ev.code, cmd) {
            (KeyCode::Char('c'), _) => {
                return Some(vec![Effect::Copy(shown_text(block))]);
            }
            (KeyCode::Char('w'), _) => {
                view.write = Some(Input::new(format!("./{}", block.file_name)));
            }
            (_, Some(Command::NextView)) => {
                *view = BlockView {
                    selected: (sel + 1) % n,
                    ..BlockView::default()
                }
            }
            (_, Some(Command::PrevView)) => {
                *view = BlockView {
                    selected: (sel + n - 1) % n,
                    ..BlockView::default()
                }
            }
            (_, Some(Command::Left)) => view.hscroll = view.hscroll.saturating_sub(H_STEP),
            (_, Some(Command::Right)) => {
                let widest = block.lines().map(|l| escape_line(l).chars().count()).max();
                let widest = crate::tui::u16_sat(widest.unwrap_or(0));
                view.hscroll = view.hscroll.saturating_add(H_STEP).min(widest);
            }
            (_, Some(Command::Up)) => view.vscroll = view.vscroll.saturating_sub(1),
            (_, Some(Command::Down)) => {
                // Never past the point where the block's last line is at the bottom of the rows
                // the last draw gave it.
                let shown = self.measured.block_rows.get().max(1);
                view.vscroll = view
                    .vscroll
                    .saturating_add(1)
                    .min(rows.saturating_sub(shown));
            }
            _ => return None,
        }
        Some(Vec::new())
    }
}
