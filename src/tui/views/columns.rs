//! Sharing a table's width by what matters: each column has a width it cannot go below, a
//! width it would like, and a rank; the least important columns go first when the frame is
//! narrow, and slack goes to the most important ones (addresses) before the rest.
//! Endpoints are shortened in the middle so the port, what the user came for, is never cut.

use ratatui::layout::Constraint;

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Col {
    pub header: &'static str,
    /// Below this the column says nothing useful: it is dropped instead.
    pub min: u16,
    /// What the content needs; slack beyond it goes to `fill` columns.
    pub want: u16,
    /// Higher keeps its place longer and gets slack first.
    pub rank: u8,
    /// Takes what is left once every column has what it wants.
    pub fill: bool,
}

impl Col {
    pub const fn new(header: &'static str, min: u16, want: u16, rank: u8) -> Col {
        Col {
            header,
            min,
            want,
            rank,
            fill: false,
        }
    }

    pub const fn fill(mut self) -> Col {
        self.fill = true;
        self
    }
}

/// The width of each column inside `width` (the table's inner width, spacing 1 between
/// columns), or `None` for a column that does not fit.
pub fn fit(cols: &[Col], width: u16) -> Vec<Option<u16>> {
    let mut kept: Vec<bool> = vec![true; cols.len()];
    let need = |kept: &[bool]| -> u32 {
        let n = kept.iter().filter(|k| **k).count() as u32;
        let mins: u32 = cols
            .iter()
            .zip(kept)
            .filter(|(_, k)| **k)
            .map(|(c, _)| u32::from(c.min))
            .sum();
        mins + n.saturating_sub(1)
    };
    let mut by_rank: Vec<usize> = (0..cols.len()).collect();
    by_rank.sort_by_key(|&i| cols[i].rank);
    for &i in &by_rank {
        if need(&kept) <= u32::from(width) {
            break;
        }
        // The most important column always stays, even squeezed.
        if kept.iter().filter(|k| **k).count() > 1 {
            kept[i] = false;
        }
    }
    let mut widths: Vec<u16> = cols
        .iter()
        .zip(&kept)
        .map(|(c, k)| if *k { c.min } else { 0 })
        .collect();
    let mut left = u32::from(width).saturating_sub(need(&kept));
    // Slack up to what each column wants, most important first; columns of equal rank (local
    // and peer) share it a character at a time.
    let mut ranks: Vec<u8> = cols.iter().map(|c| c.rank).collect();
    ranks.sort_unstable_by(|a, b| b.cmp(a));
    ranks.dedup();
    for rank in ranks {
        let group: Vec<usize> = (0..cols.len())
            .filter(|&i| kept[i] && cols[i].rank == rank)
            .collect();
        while left > 0 {
            let hungry: Vec<usize> = group
                .iter()
                .copied()
                .filter(|&i| widths[i] < cols[i].want)
                .collect();
            if hungry.is_empty() {
                break;
            }
            for i in hungry {
                if left == 0 {
                    break;
                }
                widths[i] += 1;
                left -= 1;
            }
        }
    }
    // What is left goes to the fill columns (or the last kept one).
    let fills: Vec<usize> = (0..cols.len())
        .filter(|&i| kept[i] && cols[i].fill)
        .collect();
    let fills = if fills.is_empty() {
        (0..cols.len()).rev().filter(|&i| kept[i]).take(1).collect()
    } else {
        fills
    };
    if !fills.is_empty() && left > 0 {
        let each = left / fills.len() as u32;
        let mut rest = left % fills.len() as u32;
        for &i in &fills {
            let extra = each + u32::from(rest > 0);
            rest = rest.saturating_sub(1);
            widths[i] = widths[i].saturating_add(extra as u16);
        }
    }
    if kept.iter().filter(|k| **k).count() == 1
        && let Some(i) = kept.iter().position(|k| *k)
    {
        widths[i] = widths[i].min(width);
    }
    widths
        .into_iter()
        .zip(kept)
        .map(|(w, k)| k.then_some(w))
        .collect()
}

/// Constraints and headers for the kept columns, and which columns were kept.
pub fn layout(cols: &[Col], width: u16) -> (Vec<Constraint>, Vec<&'static str>, Vec<bool>) {
    let fitted = fit(cols, width);
    let mut constraints = Vec::new();
    let mut headers = Vec::new();
    for (c, w) in cols.iter().zip(&fitted) {
        if let Some(w) = w {
            constraints.push(Constraint::Length(*w));
            headers.push(c.header);
        }
    }
    let kept = fitted.iter().map(Option::is_some).collect();
    (constraints, headers, kept)
}

/// Keeps the cells of kept columns.
pub fn pick<T>(cells: Vec<T>, kept: &[bool]) -> Vec<T> {
    cells
        .into_iter()
        .zip(kept)
        .filter(|(_, k)| **k)
        .map(|(c, _)| c)
        .collect()
}

/// Where the port starts in `127.0.0.1:8080` / `[::1]:8080` (the index of its `:`), if any.
fn port_at(endpoint: &str) -> Option<usize> {
    let i = endpoint.rfind(':')?;
    // `::1` without brackets has no port; bracketed forms end in `]:port`.
    if endpoint.starts_with('[') && !endpoint[..i].ends_with(']') {
        return None;
    }
    Some(i)
}

/// Width in characters that an endpoint needs to stay recognisable: its whole port and five
/// characters of the address on each side of the ellipsis (`[fd00:…abc::1]:8080`).
pub fn min_width(endpoint: &str) -> u16 {
    let port = port_at(endpoint).map_or(0, |i| endpoint[i..].chars().count());
    let brackets = 2 * usize::from(endpoint.starts_with('['));
    (port + brackets + 11).min(endpoint.chars().count()) as u16
}

/// `endpoint` in at most `width` characters, shortened in the middle of its address:
/// `[fd00:1234:5678:9abc::1]:8080` becomes `[fd00:12…bc::1]:8080`. The port is never cut
/// while `width` is at least `min_width`.
pub fn shorten(endpoint: &str, width: u16) -> String {
    let width = usize::from(width);
    let len = endpoint.chars().count();
    if len <= width {
        return endpoint.to_string();
    }
    let (host, port) = match port_at(endpoint) {
        Some(i) => endpoint.split_at(i),
        None => (endpoint, ""),
    };
    let (open, inner, close) = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) => ("[", inner, "]"),
        None => ("", host, ""),
    };
    let fixed = open.len() + close.len() + port.chars().count() + 1; // 1 for the ellipsis
    let Some(room) = width.checked_sub(fixed) else {
        // Not even the port fits: show its end, the part that tells ports apart.
        let keep: String = endpoint
            .chars()
            .skip(len.saturating_sub(width.saturating_sub(1)))
            .collect();
        return if width == 0 {
            keep
        } else {
            format!("…{keep}")
        };
    };
    let chars: Vec<char> = inner.chars().collect();
    let head = room.div_ceil(2).min(chars.len());
    let tail = (room - head).min(chars.len() - head);
    let head: String = chars[..head].iter().collect();
    let tail: String = chars[chars.len() - tail..].iter().collect();
    format!("{open}{head}…{tail}{close}{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortening_keeps_the_port() {
        let e = "[fd00:1234:5678:9abc::1]:8080";
        assert_eq!(min_width(e), 18);
        for w in 10..=30 {
            let s = shorten(e, w);
            assert!(s.chars().count() <= usize::from(w), "{s} in {w}");
            assert!(s.ends_with("]:8080"), "{s} in {w}");
            assert!(s.starts_with("[f"), "{s} in {w}");
        }
        assert_eq!(shorten(e, 20), "[fd00:1…abc::1]:8080");
        assert_eq!(shorten("[::ffff:127.0.0.1]:8086", 15), "[::ff…0.1]:8086");
        assert_eq!(shorten("10.20.0.5:22", 40), "10.20.0.5:22");
        assert_eq!(shorten("192.168.100.200:65535", 12), "192…00:65535");
        assert!(shorten("*", 1) == "*");
    }

    #[test]
    fn least_important_columns_go_first() {
        let cols = [
            Col::new("a", 10, 30, 9),
            Col::new("b", 10, 10, 1),
            Col::new("c", 10, 10, 5).fill(),
        ];
        assert_eq!(fit(&cols, 32), vec![Some(10), Some(10), Some(10)]);
        assert_eq!(fit(&cols, 31), vec![Some(20), None, Some(10)]);
        assert_eq!(fit(&cols, 60), vec![Some(30), Some(10), Some(18)]);
        assert_eq!(fit(&cols, 5), vec![Some(5), None, None]);
    }
}
