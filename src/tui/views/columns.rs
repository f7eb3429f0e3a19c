//! Sharing a table's width by what is on screen: each column has a width at which it reads
//! well (`min`), a width it may be squeezed to before it goes (`floor`), the width its content
//! needs (`want`) and a rank. A column with nothing on screen takes no room; the least important
//! columns go first when the frame is narrow, and slack goes to the most important ones
//! (addresses) before the rest. Endpoints are shortened in the middle so the port, what the user
//! came for, is never cut; names are cut at the end with an ellipsis, so a cut is visible.
// Widths are u16 terminal columns summed in u32, and a table has a handful of columns: the
// conversions back cannot truncate.
#![allow(clippy::cast_possible_truncation)]

use ratatui::layout::Constraint;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Col {
    pub header: &'static str,
    /// The width at which the column reads well: every kept column gets it before any gets more.
    pub min: u16,
    /// Below `min`, the width it may be squeezed to before it is dropped (the lowest-ranked
    /// columns are dropped first; the last one standing is squeezed further).
    pub floor: u16,
    /// What the content needs; slack beyond it goes to `fill` columns. 0: nothing to show, the
    /// column takes no room.
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
            floor: min,
            want,
            rank,
            fill: false,
        }
    }

    /// A column as wide as the widest of `cells` (and its header), or absent when every cell is
    /// empty: a column of blanks says nothing.
    pub fn sized<S: AsRef<str>>(
        header: &'static str,
        cells: impl IntoIterator<Item = S>,
        rank: u8,
    ) -> Col {
        let widest = cells.into_iter().map(|c| width(c.as_ref())).max();
        let want = match widest {
            None | Some(0) => 0,
            Some(w) => w.max(width(header)),
        };
        Col::new(header, want, want, rank)
    }

    /// Reads well at `n` characters (or its content, if shorter).
    #[must_use]
    pub const fn readable(mut self, n: u16) -> Col {
        self.min = if self.want < n { self.want } else { n };
        if self.floor > self.min {
            self.floor = self.min;
        }
        self
    }

    /// May be squeezed down to `n` characters before it is dropped.
    #[must_use]
    pub const fn squeeze(mut self, n: u16) -> Col {
        self.floor = if n < self.min { n } else { self.min };
        self
    }

    /// Takes no room, whatever it holds.
    pub fn hide(&mut self) {
        (self.want, self.min, self.floor) = (0, 0, 0);
    }

    #[must_use]
    pub const fn fill(mut self) -> Col {
        self.fill = true;
        self
    }
}

/// Width of `s` in terminal cells.
pub fn width(s: &str) -> u16 {
    u16::try_from(s.width()).unwrap_or(u16::MAX)
}

/// The width of each column inside `width` (the table's inner width, spacing 1 between
/// columns), or `None` for a column that does not fit or has nothing to show.
pub fn fit(cols: &[Col], width: u16) -> Vec<Option<u16>> {
    let width = u32::from(width);
    let (kept, mut widths) = keep(cols, width);
    let left = width.saturating_sub(need(&kept, &widths));
    let left = share(cols, &kept, &mut widths, left);
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
        widths[i] = widths[i].min(u16::try_from(width).unwrap_or(u16::MAX));
    }
    widths
        .into_iter()
        .zip(kept)
        .map(|(w, k)| k.then_some(w))
        .collect()
}

/// The kept columns' widths with the spaces between them.
fn need(kept: &[bool], widths: &[u16]) -> u32 {
    let n = kept.iter().filter(|k| **k).count() as u32;
    let sum: u32 = widths
        .iter()
        .zip(kept)
        .filter(|(_, k)| **k)
        .map(|(w, _)| u32::from(*w))
        .sum();
    sum + n.saturating_sub(1)
}

/// Which columns stay, each at its `min`: the least important go (or are squeezed towards their
/// `floor`, when that is enough) until the rest fit in `width`.
fn keep(cols: &[Col], width: u32) -> (Vec<bool>, Vec<u16>) {
    let mut kept: Vec<bool> = cols.iter().map(|c| c.want > 0 || c.min > 0).collect();
    let mut widths: Vec<u16> = cols.iter().map(|c| c.min).collect();
    let mut by_rank: Vec<usize> = (0..cols.len()).filter(|&i| kept[i]).collect();
    by_rank.sort_by_key(|&i| cols[i].rank);
    for &i in &by_rank {
        let over = need(&kept, &widths).saturating_sub(width);
        // The most important column always stays, even squeezed.
        if over == 0 || kept.iter().filter(|k| **k).count() == 1 {
            break;
        }
        let give = u32::from(cols[i].min.saturating_sub(cols[i].floor));
        if give >= over {
            // Squeezing this one is enough: it stays, narrower.
            widths[i] -= over as u16;
            break;
        }
        kept[i] = false;
    }
    (kept, widths)
}

/// Gives `left` characters of slack up to what each kept column wants, most important first;
/// columns of equal rank (local and peer) share it a character at a time. Returns what is left.
fn share(cols: &[Col], kept: &[bool], widths: &mut [u16], mut left: u32) -> u32 {
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
    left
}

/// `text` in at most `width` cells, cut at the end with an ellipsis when it does not fit
/// (`containerd-sh…`), so a cut name does not pass for a whole one.
pub fn clip(text: &str, width: u16) -> String {
    let width = usize::from(width);
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut used = 0;
    let mut out: String = text
        .chars()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used < width
        })
        .collect();
    out.push('…');
    out
}

/// Constraints and headers for the kept columns of a fitted table, and which were kept.
pub fn layout_of(
    cols: &[Col],
    fitted: &[Option<u16>],
) -> (Vec<Constraint>, Vec<&'static str>, Vec<bool>) {
    let mut constraints = Vec::new();
    let mut headers = Vec::new();
    for (c, w) in cols.iter().zip(fitted) {
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
    crate::tui::u16_sat((port + brackets + 11).min(endpoint.chars().count()))
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

    #[test]
    fn empty_columns_take_no_room_and_names_squeeze_before_they_go() {
        let cols = [
            Col::new("addr", 10, 20, 10),
            Col::sized("process", ["containerd-shim", "sshd"], 9)
                .readable(16)
                .squeeze(8),
            Col::sized("flags", ["", ""], 4),
            Col::sized("unit", ["ssh.service"], 3),
        ];
        assert_eq!(cols[1].want, 15);
        assert_eq!(cols[1].min, 15);
        assert_eq!(cols[2].want, 0);
        // Everything that shows something fits: the blank flags take nothing.
        assert_eq!(fit(&cols, 40), vec![Some(12), Some(15), None, Some(11)]);
        // Narrower: the unit goes, then the name is squeezed before the address is touched.
        assert_eq!(fit(&cols, 26), vec![Some(10), Some(15), None, None]);
        assert_eq!(fit(&cols, 22), vec![Some(10), Some(11), None, None]);
        assert_eq!(fit(&cols, 18), vec![Some(18), None, None, None]);
    }

    #[test]
    fn cut_text_says_so() {
        assert_eq!(clip("containerd-shim", 10), "container…");
        assert_eq!(clip("sshd", 10), "sshd");
        assert_eq!(clip("日本語のプロセス", 7), "日本語…");
        assert_eq!(
            clip("docker: payments-api-7f9c", 20),
            "docker: payments-ap…"
        );
        for w in 0..30 {
            assert!(usize::from(w) >= clip("k8s: kube-system/coredns", w).width());
        }
    }
}
