//! The Connections table: one row per socket, or folded into groups (a group is one line with its
//! count and states; an unfolded group shows its members under it, indented). The sort column
//! carries an arrow in the header.

use super::columns::{self, Col};
use super::{owner_name, window};
use crate::analyze::conn_groups::Group;
use crate::analyze::conn_sort::SortKey;
use crate::model::{Snapshot, Socket, State};
use crate::tui::app::{App, ConnLine, group_words};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use unicode_width::UnicodeWidthChar;

/// The sort key each column stands for, in the table's order.
const COLUMN_SORT: [SortKey; 7] = [
    SortKey::Proto,
    SortKey::State,
    SortKey::Local,
    SortKey::Remote,
    SortKey::Mark,
    SortKey::Process,
    SortKey::Pid,
];

/// Where members of an unfolded group are indented to (and the fold marker of a group).
const INDENT: u16 = 2;

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme, snap: &Snapshot) {
    let view = &app.conns;
    let mut title = format!(
        " Connections ({}{}",
        view.rows.len(),
        if view.filter.value().is_empty() {
            ""
        } else {
            ", filtered"
        }
    );
    if let Some(key) = view.sort {
        // Also here: at 60 columns the sorted column may be one that gives way.
        let arrow = if view.descending { '↓' } else { '↑' };
        _ = write!(title, ", sorted by {} {arrow}", key.name());
    }
    if let Some(by) = view.group {
        _ = write!(
            title,
            ", {} by {}",
            crate::human::count(view.groups.len(), "group"),
            group_words(by)
        );
    }
    title.push_str(") ");
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()));
    if view.lines.is_empty() {
        f.render_widget(Paragraph::new("no connections").block(block), area);
        return;
    }
    let (from, to) = window(
        &view.nav,
        &app.measured.conns_page,
        view.lines.len(),
        area.height,
    );
    let shown = &view.lines[from..to];
    let grouped = view.group.is_some();
    // Columns are sized by the sockets on screen; group lines span the whole width.
    let sockets: Vec<&Socket> = shown
        .iter()
        .filter_map(|l| match *l {
            ConnLine::Socket(i) | ConnLine::Member { socket: i, .. } => Some(&snap.sockets[i]),
            ConnLine::Group(_) => None,
        })
        .collect();
    let ends: Vec<(String, String)> = sockets.iter().map(|s| (s.local(), s.remote())).collect();
    let cols = table_cols(&sockets, &ends, view.sort);
    let inner = area
        .width
        .saturating_sub(2)
        .saturating_sub(if grouped { INDENT } else { 0 });
    let fitted = columns::fit(&cols, inner);
    let headers: Vec<String> = cols
        .iter()
        .zip(&fitted)
        .zip(COLUMN_SORT)
        .filter_map(|((c, w), key)| {
            let w = usize::from((*w)?);
            Some(match view.sort {
                Some(k) if k == key => {
                    let arrow = if view.descending { '↓' } else { '↑' };
                    if c.header.len() + 2 <= w {
                        format!("{} {arrow}", c.header)
                    } else {
                        // Narrow: the arrow first, where it cannot be cut off.
                        format!("{arrow}{}", c.header)
                    }
                }
                _ => c.header.to_string(),
            })
        })
        .collect();
    let kept: Vec<bool> = fitted.iter().map(Option::is_some).collect();
    let widths: Vec<u16> = fitted.iter().flatten().copied().collect();
    let cells_of = |s: &Socket, local: &str, peer: &str| -> Vec<Span<'static>> {
        let cells = socket_cells(s, local, peer, &fitted, theme);
        columns::pick(cells, &kept)
    };
    let selected = view.nav.selected - from;

    if !grouped {
        let rows: Vec<Row> = sockets
            .iter()
            .zip(&ends)
            .map(|(s, (local, peer))| {
                Row::new(cells_of(s, local, peer).into_iter().map(Cell::from))
            })
            .collect();
        let constraints = widths
            .iter()
            .map(|w| ratatui::layout::Constraint::Length(*w));
        let table = Table::new(rows, constraints)
            .header(Row::new(headers).style(theme.header()))
            .row_highlight_style(theme.selected())
            .block(block);
        let mut state = TableState::default().with_selected(Some(selected));
        f.render_stateful_widget(table, area, &mut state);
        return;
    }

    // Grouped: lines laid out by hand, since a group line spans every column.
    let full = usize::from(area.width.saturating_sub(2));
    let indent = " ".repeat(usize::from(INDENT));
    let header_cells: Vec<Span> = headers
        .into_iter()
        .map(|h| Span::styled(h, theme.header()))
        .collect();
    // With only group lines on screen, the header names what they say.
    let header = if sockets.is_empty() {
        vec![Span::styled(
            format!("{indent}group · connections · per state"),
            theme.header(),
        )]
    } else {
        joined(Span::raw(indent.clone()), header_cells, &widths)
    };
    let mut lines = vec![pad_line(header, full, Style::new())];
    let mut socket_at = sockets.iter().zip(&ends);
    for (n, line) in shown.iter().enumerate() {
        let style = if n == selected {
            theme.selected()
        } else {
            Style::new()
        };
        let spans = match *line {
            ConnLine::Group(g) => {
                let Some(grp) = view.groups.get(g) else {
                    continue;
                };
                let open = view.expanded.contains(&grp.key);
                group_spans(grp, open, theme)
            }
            ConnLine::Socket(_) | ConnLine::Member { .. } => {
                let Some((s, (local, peer))) = socket_at.next() else {
                    continue;
                };
                joined(Span::raw(indent.clone()), cells_of(s, local, peer), &widths)
            }
        };
        lines.push(pad_line(spans, full, style));
    }
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// The columns, sized by the sockets on screen (and their endpoints, `ends`).
fn table_cols(sockets: &[&Socket], ends: &[(String, String)], sort: Option<SortKey>) -> [Col; 7] {
    let need = |f: fn(&(String, String)) -> &String| {
        let min = ends.iter().map(|e| columns::min_width(f(e))).max();
        let want = ends
            .iter()
            .map(|e| crate::tui::u16_sat(f(e).chars().count()))
            .max();
        (min.unwrap_or(0).max(5), want.unwrap_or(0).max(5))
    };
    let (local_min, local_want) = need(|e| &e.0);
    let (peer_min, peer_want) = need(|e| &e.1);
    // "frees in 46 s" where there is room; no column at all when no socket has a mark.
    let mark_want = if sockets.iter().any(|s| s.expires_ms.is_some()) {
        13
    } else if sockets.iter().any(|s| s.autobound) {
        4
    } else {
        0
    };
    let names: Vec<String> = sockets.iter().map(|s| owner_name(s)).collect();
    let mut cols = [
        Col::new("proto", 5, 5, 6),
        Col::sized("state", sockets.iter().map(|s| s.state.ss_name()), 8),
        Col::new("local", local_min, local_want, 10),
        Col::new("peer", peer_min, peer_want, 10),
        Col::new("mark", mark_want.min(4), mark_want, 5),
        // Names read whole up to the kernel's 15 characters (and "+1").
        Col::sized("process", &names, 7).readable(18).squeeze(8),
        Col::sized("pid", sockets.iter().map(|s| pid_of(s)), 4),
    ];
    // Room for the sort arrow beside its column's name.
    if let Some(key) = sort
        && let Some(i) = COLUMN_SORT.iter().position(|k| *k == key)
        && cols[i].want > 0
    {
        let with_arrow = columns::width(cols[i].header) + 2;
        cols[i].want = cols[i].want.max(with_arrow);
        cols[i].min = cols[i].min.max(with_arrow);
    }
    cols
}

/// The cells of a socket's row, each shortened to its fitted width where it matters.
fn socket_cells(
    s: &Socket,
    local: &str,
    peer: &str,
    fitted: &[Option<u16>],
    theme: &Theme,
) -> Vec<Span<'static>> {
    let (local_w, peer_w) = (fitted[2].unwrap_or(0), fitted[3].unwrap_or(0));
    let mark_w = fitted[4].unwrap_or(0);
    let mark = if s.autobound {
        Span::styled(
            "auto",
            theme.class_style(crate::analyze::portmap::PortClass::Outgoing),
        )
    } else if let Some(ms) = s.expires_ms {
        // Narrow: the countdown alone ("46 s"), which the help explains.
        let text = crate::human::frees_in(ms);
        let text = if text.chars().count() > usize::from(mark_w) {
            text.trim_start_matches("frees in ").to_string()
        } else {
            text
        };
        Span::styled(text, theme.dim())
    } else {
        Span::raw("")
    };
    vec![
        Span::raw(s.proto.as_str()),
        Span::raw(s.state.ss_name()),
        Span::raw(columns::shorten(local, local_w)),
        Span::raw(columns::shorten(peer, peer_w)),
        mark,
        Span::raw(columns::clip(&owner_name(s), fitted[5].unwrap_or(0))),
        Span::raw(pid_of(s)),
    ]
}

fn pid_of(s: &Socket) -> String {
    s.owners
        .first()
        .map_or(String::new(), |o| o.pid.to_string())
}

/// "▸ api (pid 4123) · 8,000 conns · 7,990 EST 10 CW".
fn group_spans(g: &Group, open: bool, theme: &Theme) -> Vec<Span<'static>> {
    let states: Vec<String> = g
        .states
        .iter()
        .map(|(st, n)| format!("{} {}", thousands(*n), short_state(*st)))
        .collect();
    vec![
        Span::styled(if open { "▾ " } else { "▸ " }, theme.key()),
        Span::styled(g.label.clone(), theme.title()),
        Span::raw(format!(
            " · {} conn{} · ",
            thousands(g.count),
            if g.count == 1 { "" } else { "s" }
        )),
        Span::styled(states.join(" "), theme.dim()),
    ]
}

/// `prefix`, then each cell cut or padded to its width, one space apart (as a table spaces them).
fn joined(prefix: Span<'static>, cells: Vec<Span<'static>>, widths: &[u16]) -> Vec<Span<'static>> {
    let mut out = vec![prefix];
    for (i, (cell, w)) in cells.into_iter().zip(widths).enumerate() {
        if i > 0 {
            out.push(Span::raw(" "));
        }
        let text = fit_width(&cell.content, usize::from(*w));
        out.push(Span::styled(text, cell.style));
    }
    out
}

/// The spans cut to `width` columns and padded to it, so a highlight fills the line.
fn pad_line(spans: Vec<Span<'static>>, width: usize, style: Style) -> Line<'static> {
    let mut out = Vec::new();
    let mut used = 0;
    for s in spans {
        if used >= width {
            break;
        }
        let text = cut(&s.content, width - used);
        used += text_width(&text);
        out.push(Span::styled(text, s.style));
    }
    if used < width {
        out.push(Span::raw(" ".repeat(width - used)));
    }
    Line::from(out).style(style)
}

fn text_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `s` cut to at most `width` columns.
fn cut(s: &str, width: usize) -> String {
    let mut used = 0;
    s.chars()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= width
        })
        .collect()
}

/// `s` cut or padded to exactly `width` columns.
fn fit_width(s: &str, width: usize) -> String {
    let mut t = cut(s, width);
    let w = text_width(&t);
    t.push_str(&" ".repeat(width.saturating_sub(w)));
    t
}

/// 7990 → "7,990".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The short names a group line counts states by, so a line fits "7,990 EST 10 CW".
pub fn short_state(s: State) -> &'static str {
    match s {
        State::Listen => "LISTEN",
        State::Established => "EST",
        State::SynSent => "SYN-S",
        State::SynRecv => "SYN-R",
        State::FinWait1 => "FW1",
        State::FinWait2 => "FW2",
        State::TimeWait => "TW",
        State::Close => "CLOSE",
        State::CloseWait => "CW",
        State::LastAck => "LAST-ACK",
        State::Closing => "CLOSING",
        State::Unconn => "UNCONN",
        State::BoundInactive => "BOUND",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_and_widths() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(7990), "7,990");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(fit_width("abcdef", 3), "abc");
        assert_eq!(fit_width("ab", 4), "ab  ");
        assert_eq!(cut("日本語", 4), "日本");
    }
}
