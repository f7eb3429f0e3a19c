//! A plain column-aligned text table for terminal output.
//!
//! Tables of 100k+ sockets are streamed: one pass measures the columns, a second formats and
//! writes each row, reusing the same cell buffers, so memory stays flat whatever the row count.

use std::io::{self, Write};

/// Writes `items` as a table: `fill` puts an item's cells into the (cleared) buffers. Each column
/// is as wide as its widest cell; the last column is not padded.
pub fn write_table<const N: usize, T>(
    w: &mut impl Write,
    headers: [&str; N],
    items: &[T],
    fill: impl Fn(&T, &mut [String; N]),
) -> io::Result<()> {
    let mut cells: [String; N] = std::array::from_fn(|_| String::new());
    let mut width: [usize; N] = std::array::from_fn(|i| headers[i].chars().count());
    for item in items {
        cells.iter_mut().for_each(String::clear);
        fill(item, &mut cells);
        for (wd, c) in width.iter_mut().zip(&cells) {
            *wd = (*wd).max(c.chars().count());
        }
    }
    let mut line = String::new();
    let mut emit = |w: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        line.clear();
        for (i, cell) in cells.enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                line.extend(std::iter::repeat_n(
                    ' ',
                    width[i] - cell.chars().count() + 1,
                ));
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
                ["22".into(), "yyyyy".into(), "".into()],
            ],
        );
        assert_eq!(t, "A  Long  Z\n1  x     tail\n22 yyyyy\n");
    }
}
