//! Text meant to be copied, drawn whole: never soft-wrapped (a wrapped command pasted into a
//! shell is a different command). A line wider than the dialog is clipped with a visible
//! marker and scrolls sideways; a block taller than its rows scrolls up and down.

use crate::escape::escape_line;
use crate::model::text::Block;
use crate::tui::app::{App, BlockView};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Marks a line that goes on past the right edge.
pub const MORE_RIGHT: char = '›';
/// Marks a line scrolled so that it starts before the left edge.
pub const MORE_LEFT: char = '‹';
/// Rows an unselected block keeps when space is short.
const OTHER_ROWS: u16 = 2;

/// One line of a block as it fits `width` columns after skipping `skip` of them.
pub fn clip(line: &str, skip: usize, width: usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    if width == 0 {
        return String::new();
    }
    let rest = chars.get(skip..).unwrap_or(&[]);
    let mut out: Vec<char> = if rest.len() > width {
        let mut v = rest[..width - 1].to_vec();
        v.push(MORE_RIGHT);
        v
    } else {
        rest.to_vec()
    };
    if skip > 0 && !chars.is_empty() {
        match out.first_mut() {
            Some(c) => *c = MORE_LEFT,
            None => out.push(MORE_LEFT),
        }
    }
    out.into_iter().collect()
}

/// Rows the blocks want: a label row each, then every line.
pub fn wanted_rows(blocks: &[Block]) -> u16 {
    crate::tui::u16_sat(blocks.iter().map(|b| 1 + b.lines().count()).sum())
}

/// The key hint under the blocks (with the result of the last copy or write, when there is
/// one), or the path prompt while `w` is being answered.
pub fn hint<'a>(app: &App, theme: &Theme, blocks: &[Block]) -> Line<'a> {
    if let Some(input) = &app.blocks.write {
        return Line::from(vec![
            Span::styled("write to: ", theme.key()),
            Span::styled(format!("{}▏", input.value()), theme.selected()),
            Span::styled(
                "  enter writes a new file (never overwrites) · esc cancels",
                theme.dim(),
            ),
        ]);
    }
    if let Some(note) = &app.note {
        return Line::from(Span::styled(escape_line(note).into_owned(), theme.warn()));
    }
    let mut text = String::from("c copy · w write to a file · ←→↑↓ scroll");
    if blocks.len() > 1 {
        text.push_str(" · tab next");
    }
    Line::from(Span::styled(text, theme.dim()))
}

/// Draws the blocks into `area`, the selected one given the spare rows; records those rows.
pub fn render(f: &mut Frame, app: &App, theme: &Theme, blocks: &[Block], area: Rect) {
    if blocks.is_empty() || area.height == 0 {
        return;
    }
    let view: &BlockView = &app.blocks;
    let sel = view.selected.min(blocks.len() - 1);
    let lens: Vec<u16> = blocks
        .iter()
        .map(|b| crate::tui::u16_sat(b.lines().count()))
        .collect();
    // Labels first and the others' few rows; the selected block takes what it needs of the
    // rest, and whatever is left after that goes back to the others, in order.
    let others_min: u16 = lens
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != sel)
        .map(|(_, l)| (*l).min(OTHER_ROWS))
        .sum();
    let labels = crate::tui::u16_sat(blocks.len());
    let sel_rows = area
        .height
        .saturating_sub(labels.saturating_add(others_min))
        .min(lens[sel])
        .max(1);
    app.measured.block_rows.set(sel_rows);
    let mut spare = area.height.saturating_sub(labels.saturating_add(sel_rows));
    let rows_of: Vec<u16> = lens
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == sel {
                sel_rows
            } else {
                let r = (*l).min(spare);
                spare -= r;
                r
            }
        })
        .collect();
    let width = usize::from(area.width);
    let mut y = area.y;
    let bottom = area.y + area.height;
    for (i, b) in blocks.iter().enumerate() {
        if y >= bottom {
            break;
        }
        let selected = i == sel;
        let label_style = if selected {
            theme.selected()
        } else {
            theme.key()
        };
        let marker = if selected && blocks.len() > 1 {
            "▶ "
        } else {
            ""
        };
        let label = Line::from(Span::styled(
            clip(&format!("{marker}{}", escape_line(&b.label)), 0, width),
            label_style.add_modifier(Modifier::BOLD),
        ));
        f.render_widget(
            Paragraph::new(label),
            Rect {
                y,
                height: 1,
                ..area
            },
        );
        y += 1;
        let (rows, skip, first) = if selected {
            let first = view.vscroll.min(lens[i].saturating_sub(sel_rows));
            (sel_rows, usize::from(view.hscroll), usize::from(first))
        } else {
            (rows_of[i], 0, 0)
        };
        let lines: Vec<&str> = b.lines().collect();
        for r in 0..rows {
            if y >= bottom {
                break;
            }
            let Some(text) = lines.get(first + usize::from(r)) else {
                break;
            };
            let shown = clip(&escape_line(text), skip, width.saturating_sub(2));
            f.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::raw("  "),
                    Span::styled(shown, theme.key()),
                ])),
                Rect {
                    y,
                    height: 1,
                    ..area
                },
            );
            y += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_lines_and_marks_cut_ones() {
        assert_eq!(clip("abc", 0, 10), "abc");
        assert_eq!(clip("abcdef", 0, 4), "abc›");
        assert_eq!(clip("abcdef", 2, 10), "‹def");
        assert_eq!(clip("abcdefgh", 2, 4), "‹de›");
        assert_eq!(clip("ab", 5, 4), "‹");
        assert_eq!(clip("", 3, 4), "");
    }
}
