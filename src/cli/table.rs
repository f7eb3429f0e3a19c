//! A plain column-aligned text table for terminal output.
//!
//! Tables of 100k+ sockets are streamed: one pass measures the columns, a second formats and
//! writes each row, reusing the same cell buffers, so memory stays flat whatever the row count.

use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

/// The columns `s` takes on a terminal: a CJK character takes two, a combining mark none
/// (the widths ratatui lays out by), so a Japanese process name does not push its row out of
/// line.
pub fn width(s: &str) -> usize {
    // Printable ASCII (every cell of a socket table) is a column a byte.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        s.len()
    } else {
        s.width()
    }
}

/// `s` padded with spaces to `cols` terminal columns.
pub fn pad(s: &str, cols: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(width(s))));
    out
}

/// Writes `items` as a table: `fill` puts an item's cells into the (cleared) buffers. Each column
/// is as wide as its widest cell; the last column is not padded.
pub fn write_table<const N: usize, T>(
    w: &mut impl Write,
    headers: [&str; N],
    items: &[T],
    fill: impl Fn(&T, &mut [String; N]),
) -> io::Result<()> {
    let mut cells: [String; N] = std::array::from_fn(|_| String::new());
    let mut widths: [usize; N] = std::array::from_fn(|i| width(headers[i]));
    for item in items {
        cells.iter_mut().for_each(String::clear);
        fill(item, &mut cells);
        for (wd, c) in widths.iter_mut().zip(&cells) {
            *wd = (*wd).max(width(c));
        }
    }
    let mut line = String::new();
    let mut emit = |w: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        line.clear();
        for (i, cell) in cells.enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                line.extend(std::iter::repeat_n(' ', widths[i] - width(cell) + 1));
            }
        }
        let trimmed = line.trim_end();
        w.write_all(trimmed.as_bytes())?;
        w.write_all(b"\n")
    };
    emit(w, &mut headers.iter().copied())?;
    for item in items {
        cells.iter_mut().for_each(String::clear);
        fill(item, &mut cells);
        emit(w, &mut cells.iter().map(String::as_str))?;
    }
    Ok(())
}

/// A small table rendered to a string.
pub fn render<const N: usize>(headers: [&str; N], rows: &[[String; N]]) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_table(&mut out, headers, rows, |row, cells| {
        for (c, v) in cells.iter_mut().zip(row) {
            c.push_str(v);
        }
    });
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns_columns_and_trims_the_last() {
        let t = super::render(
            ["A", "Long", "Z"],
            &[
                ["1".into(), "x".into(), "tail".into()],
                ["22".into(), "yyyyy".into(), String::new()],
            ],
        );
        assert_eq!(t, "A  Long  Z\n1  x     tail\n22 yyyyy\n");
    }

    /// A name in CJK takes two columns per character: the next column still starts at the
    /// same terminal column on every row.
    #[test]
    fn wide_characters_keep_the_columns_aligned() {
        let t = super::render(
            ["PID", "COMMAND", "USER"],
            &[
                ["1".into(), "サーバー".into(), "root".into()],
                ["22".into(), "nginx".into(), "www".into()],
            ],
        );
        let user_at: Vec<usize> = t
            .lines()
            .map(|l| {
                let cut = l.rfind(' ').unwrap_or(0);
                super::width(&l[..cut])
            })
            .collect();
        assert_eq!(user_at, [12, 12, 12], "{t}");
        assert_eq!(super::pad("日本", 5), "日本 ");
    }
}
