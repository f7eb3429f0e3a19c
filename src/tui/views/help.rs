//! Help: generated from the key map, so every binding is documented, and the marks every view
//! shows explained. Lines are wrapped here, never cut, and the scroll stops at the last line.

use crate::tui::app::App;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// What the `/` filter understands, one line per term.
pub const FILTER_TERMS: [(&str, &str); 12] = [
    (
        "sport:8080",
        "local port; lists and ranges: 80,443 or 8000-8100",
    ),
    ("dport:5432", "remote port, the same way"),
    (
        "state:cw",
        "state: est, cw, tw, syn-sent, fin-wait-2, listen…; cw,tw either",
    ),
    ("proc:java", "command name contains"),
    ("pid:4123", "process id (pid:1,2 either)"),
    ("user:www", "user name contains, or a uid exactly"),
    ("unit:nginx", "systemd unit, container or pod contains"),
    ("netns:N", "network namespace inode (net:[N])"),
    ("proto:udp", "tcp or udp"),
    (
        "auto / kernel",
        "kernel-chosen local port / no process holds it",
    ),
    ("!term", "not (-sport:80 too); terms are ANDed"),
    (
        "word",
        "free text anywhere; a number alone is a port or pid",
    ),
];

const KEY_COL: usize = 17;

/// `text` in pieces of at most `width` characters, broken at spaces where possible.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        loop {
            let cur_len = cur.chars().count();
            let sep = usize::from(cur_len > 0);
            if cur_len + sep + word.chars().count() <= width {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.push_str(&word);
                break;
            }
            if cur_len > 0 {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            // A word longer than the line: break it.
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            out.push(head);
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// Keys of a dialog with text to copy (fixed: they act only inside such a dialog).
pub const DIALOG_KEYS: [(&str, &str); 4] = [
    (
        "c",
        "copy the selected block to the clipboard with OSC 52 (works over SSH where the terminal \
         allows it; inside tmux it needs `set -g set-clipboard on`)",
    ),
    (
        "w",
        "write the selected block to a new file (a path is offered; an existing file or a link \
         there is refused, never overwritten)",
    ),
    ("tab", "select the next block (shift-tab: the previous one)"),
    ("←→↑↓", "scroll the selected block (a cut line ends in ›)"),
];

/// The help's lines for an inner width of `width` columns.
pub fn lines(app: &App, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let text_width = width.saturating_sub(KEY_COL + 1).max(8);
    let mut lines = Vec::new();
    let mut row = |left: String, text: &str, style| {
        for (i, piece) in wrap(text, text_width).into_iter().enumerate() {
            let key = if i == 0 { left.clone() } else { String::new() };
            lines.push(Line::from(vec![
                Span::styled(format!(" {key:<width$}", width = KEY_COL - 1), style),
                Span::raw(piece),
            ]));
        }
    };
    for (keys, _, help) in app.keymap.help_rows() {
        row(keys, help, theme.key());
    }
    row(String::new(), "", theme.key());
    row(
        "Filter".into(),
        "each table (Listeners, Connections) keeps its own; a bad term is named in the footer:",
        theme.header(),
    );
    for (term, meaning) in FILTER_TERMS {
        row(term.into(), meaning, theme.dim());
    }
    row(String::new(), "", theme.key());
    row(
        "Dialogs".into(),
        "in a confirmation only y acts; n, esc or enter cancel. Text meant to be copied \
         (commands, a sysctl.d file, an Ansible task) is shown whole, never wrapped:",
        theme.header(),
    );
    for (keys, meaning) in DIALOG_KEYS {
        row(keys.into(), meaning, theme.key());
    }
    row(String::new(), "", theme.key());
    row(
        "Marks".into(),
        "what the flag and mark columns say:",
        theme.header(),
    );
    for m in crate::tui::marks::ALL {
        row(m.name.into(), m.meaning, theme.dim());
    }
    lines
}

pub fn render(f: &mut Frame, app: &App, theme: &Theme, scroll: u16) {
    let area = centered(f.area(), 80, 40);
    f.render_widget(Clear, area);
    let lines = lines(app, theme, area.width.saturating_sub(2));
    let visible = area.height.saturating_sub(2);
    let max = crate::tui::u16_sat(lines.len()).saturating_sub(visible);
    app.measured.overlay_max_scroll.set(max);
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        " Keys (↑↓ g G scroll · q/esc close) ",
        theme.title(),
    ));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll.min(max), 0)),
        area,
    );
}
