//! Turns a ratatui [`Buffer`] into a PNG that looks like a terminal screenshot.
//!
//! Text comes from GNU Unifont (8x16, covers the whole BMP), placed in a 9x18
//! cell so that lines and columns have a little breathing room, as in a real
//! terminal. Box drawing, block elements, Braille and sextants are drawn
//! procedurally instead: a font glyph stops at its own 8x16 box, so borders
//! would show gaps in a 9x18 cell, whereas shapes computed from the cell size
//! meet their neighbours exactly. Solid triangles are drawn too, because
//! Unifont's are tiny and TUIs use them as selection markers.
//!
//! Colours follow xterm's defaults; REVERSED, DIM, BOLD, UNDERLINED,
//! CROSSED_OUT and HIDDEN are honoured, ITALIC and blinking are not.
//!
//! Include it from an example with
//! `#[path = "raster.rs"] mod raster;` from a tool beside it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier};
use unicode_width::UnicodeWidthStr;

const CELL_W: usize = 9;
const CELL_H: usize = 18;
/// Where Unifont's 8x16 glyph box sits inside the 9x18 cell.
const GLYPH_X: usize = 0;
const GLYPH_Y: usize = 1;

type Rgb = [u8; 3];

const DEFAULT_FG: Rgb = [0xd0, 0xd0, 0xd0];
const DEFAULT_BG: Rgb = [0x1c, 0x1c, 0x1c];

/// xterm's default 16 colours, so screenshots match what most users see.
const ANSI: [Rgb; 16] = [
    [0x00, 0x00, 0x00],
    [0xcd, 0x00, 0x00],
    [0x00, 0xcd, 0x00],
    [0xcd, 0xcd, 0x00],
    [0x00, 0x00, 0xee],
    [0xcd, 0x00, 0xcd],
    [0x00, 0xcd, 0xcd],
    [0xe5, 0xe5, 0xe5],
    [0x7f, 0x7f, 0x7f],
    [0xff, 0x00, 0x00],
    [0x00, 0xff, 0x00],
    [0xff, 0xff, 0x00],
    [0x5c, 0x5c, 0xff],
    [0xff, 0x00, 0xff],
    [0x00, 0xff, 0xff],
    [0xff, 0xff, 0xff],
];

/// Renders `buf` and writes it to `path` as an 8-bit RGB PNG.
pub fn buffer_to_png(buf: &Buffer, path: &Path) -> io::Result<()> {
    let img = render(buf);
    let width = u32::try_from(img.w).map_err(io::Error::other)?;
    let height = u32::try_from(img.h).map_err(io::Error::other)?;
    let mut out = BufWriter::new(File::create(path)?);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&img.px)?;
    writer.finish()?;
    // Dropping a BufWriter swallows flush errors; surface them instead.
    out.flush()
}

struct Image {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Image {
    fn new(w: usize, h: usize) -> Self {
        let mut px = Vec::with_capacity(w * h * 3);
        for _ in 0..w * h {
            px.extend_from_slice(&DEFAULT_BG);
        }
        Self { w, h, px }
    }
}

/// Per-pixel glyph coverage (0 = background, 255 = foreground) for one cell,
/// or two for a wide character. Coverage rather than on/off lets arcs,
/// diagonals and shades be anti-aliased.
struct Mask {
    w: usize,
    h: usize,
    a: Vec<u8>,
}

impl Mask {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            a: vec![0; w * h],
        }
    }

    /// Shapes overlap where strokes meet, so keep the strongest coverage
    /// rather than the last one written.
    fn put(&mut self, x: i32, y: i32, v: u8) {
        if x < 0 || y < 0 {
            return;
        }
        let (x, y) = (x as usize, y as usize);
        if x < self.w && y < self.h {
            let p = &mut self.a[y * self.w + x];
            *p = (*p).max(v);
        }
    }

    /// Fills the half-open rectangle `[x0, x1) x [y0, y1)`, clipped to the mask.
    fn fill(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, v: u8) {
        for y in y0.max(0)..y1.min(self.h as i32) {
            for x in x0.max(0)..x1.min(self.w as i32) {
                self.put(x, y, v);
            }
        }
    }

    /// Anti-aliased coverage from a signed-distance-like function: pixels whose
    /// centre is within `half` of the shape are fully covered, with a one pixel
    /// ramp beyond that.
    fn shade(&mut self, dist: impl Fn(f32, f32) -> Option<f32>, half: f32) {
        for y in 0..self.h {
            for x in 0..self.w {
                if let Some(d) = dist(x as f32 + 0.5, y as f32 + 0.5) {
                    let cov = (half + 0.5 - d).clamp(0.0, 1.0);
                    if cov > 0.0 {
                        self.put(x as i32, y as i32, (cov * 255.0).round() as u8);
                    }
                }
            }
        }
    }

    /// Fills a convex polygon, anti-aliased by 4x4 supersampling.
    fn fill_polygon(&mut self, pts: &[(f32, f32)]) {
        const S: usize = 4;
        let inside = |x: f32, y: f32| {
            let mut sign = 0.0f32;
            for (i, a) in pts.iter().enumerate() {
                let b = pts[(i + 1) % pts.len()];
                let cross = (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0);
                if cross != 0.0 {
                    if sign * cross < 0.0 {
                        return false;
                    }
                    sign = cross;
                }
            }
            true
        };
        for y in 0..self.h {
            for x in 0..self.w {
                let mut hits = 0;
                for sy in 0..S {
                    for sx in 0..S {
                        let fx = x as f32 + (sx as f32 + 0.5) / S as f32;
                        let fy = y as f32 + (sy as f32 + 0.5) / S as f32;
                        if inside(fx, fy) {
                            hits += 1;
                        }
                    }
                }
                if hits > 0 {
                    self.put(x as i32, y as i32, (hits * 255 / (S * S)) as u8);
                }
            }
        }
    }
}

fn render(buf: &Buffer) -> Image {
    let cols = usize::from(buf.area.width);
    let rows = usize::from(buf.area.height);
    let mut img = Image::new(cols * CELL_W, rows * CELL_H);
    let content = buf.content();
    for y in 0..rows {
        let row = &content[y * cols..(y + 1) * cols];
        let mut x = 0;
        while x < cols {
            let cell = &row[x];
            // ratatui blanks the cell after a wide character (style and all);
            // only treat it as the glyph's right half if nothing has been
            // drawn there since, and paint it in the wide cell's colours.
            let wide = cell.symbol().width() >= 2
                && row.get(x + 1).is_some_and(|next| next.symbol() == " ");
            let span = if wide { 2 } else { 1 };
            paint_cell(&mut img, cell, x * CELL_W, y * CELL_H, span);
            x += span;
        }
    }
    img
}

fn paint_cell(img: &mut Image, cell: &Cell, px: usize, py: usize, span: usize) {
    let (fg, bg) = cell_colors(cell);
    let bold = cell.modifier.contains(Modifier::BOLD);
    let mut mask = glyph_mask(cell.symbol(), span, bold);
    if cell.modifier.contains(Modifier::HIDDEN) {
        mask.a.fill(0);
    }
    let full = mask.w as i32;
    if cell.modifier.contains(Modifier::UNDERLINED) {
        let y = (CELL_H - 2) as i32;
        mask.fill(0, y, full, y + 1, 255);
    }
    if cell.modifier.contains(Modifier::CROSSED_OUT) {
        let y = (GLYPH_Y + 8) as i32;
        mask.fill(0, y, full, y + 1, 255);
    }
    for my in 0..mask.h {
        let row_start = ((py + my) * img.w + px) * 3;
        for mx in 0..mask.w {
            let c = blend(bg, fg, mask.a[my * mask.w + mx]);
            let i = row_start + mx * 3;
            img.px[i..i + 3].copy_from_slice(&c);
        }
    }
}

fn cell_colors(cell: &Cell) -> (Rgb, Rgb) {
    let mut fg = color_rgb(cell.fg, DEFAULT_FG);
    let mut bg = color_rgb(cell.bg, DEFAULT_BG);
    if cell.modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    if cell.modifier.contains(Modifier::DIM) {
        fg = blend(fg, bg, 128);
    }
    (fg, bg)
}

fn color_rgb(color: Color, default: Rgb) -> Rgb {
    match color {
        Color::Reset => default,
        Color::Black => ANSI[0],
        Color::Red => ANSI[1],
        Color::Green => ANSI[2],
        Color::Yellow => ANSI[3],
        Color::Blue => ANSI[4],
        Color::Magenta => ANSI[5],
        Color::Cyan => ANSI[6],
        Color::Gray => ANSI[7],
        Color::DarkGray => ANSI[8],
        Color::LightRed => ANSI[9],
        Color::LightGreen => ANSI[10],
        Color::LightYellow => ANSI[11],
        Color::LightBlue => ANSI[12],
        Color::LightMagenta => ANSI[13],
        Color::LightCyan => ANSI[14],
        Color::White => ANSI[15],
        Color::Rgb(r, g, b) => [r, g, b],
        Color::Indexed(n) => indexed_rgb(n),
    }
}

/// The xterm 256-colour palette: 16 system colours, a 6x6x6 cube, a grey ramp.
fn indexed_rgb(n: u8) -> Rgb {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match n {
        0..=15 => ANSI[usize::from(n)],
        16..=231 => {
            let i = usize::from(n - 16);
            [LEVELS[i / 36], LEVELS[(i / 6) % 6], LEVELS[i % 6]]
        }
        232..=255 => {
            let v = 8 + 10 * (n - 232);
            [v, v, v]
        }
    }
}

/// Mixes `to` over `from` with weight `a` / 255.
fn blend(from: Rgb, to: Rgb, a: u8) -> Rgb {
    let a = u32::from(a);
    let mix = |f: u8, t: u8| ((u32::from(f) * (255 - a) + u32::from(t) * a + 127) / 255) as u8;
    [
        mix(from[0], to[0]),
        mix(from[1], to[1]),
        mix(from[2], to[2]),
    ]
}

fn glyph_mask(symbol: &str, span: usize, bold: bool) -> Mask {
    let mut mask = Mask::new(CELL_W * span, CELL_H);
    let Some(c) = symbol.chars().next() else {
        return mask;
    };
    let drawn = match u32::from(c) {
        0x20 | 0xa0 => true,
        0x2500..=0x257f => draw_box(&mut mask, c),
        0x2580..=0x259f => draw_block(&mut mask, c),
        0x25b2 | 0x25b4 | 0x25b6 | 0x25b8 | 0x25ba | 0x25bc | 0x25be | 0x25c0 | 0x25c2 | 0x25c4 => {
            draw_triangle(&mut mask, c)
        }
        0x2800..=0x28ff => draw_braille(&mut mask, c),
        0x1fb00..=0x1fb3b => draw_sextant(&mut mask, c),
        _ => draw_font(&mut mask, c, bold),
    };
    if !drawn {
        draw_missing(&mut mask);
    }
    mask
}

/// A hollow box, as terminals show for characters their font lacks.
fn draw_missing(mask: &mut Mask) {
    let (x0, x1) = (1, CELL_W as i32 - 2);
    let (y0, y1) = (GLYPH_Y as i32 + 3, GLYPH_Y as i32 + 14);
    mask.fill(x0, y0, x1, y0 + 1, 255);
    mask.fill(x0, y1 - 1, x1, y1, 255);
    mask.fill(x0, y0, x0 + 1, y1, 255);
    mask.fill(x1 - 1, y0, x1, y1, 255);
}

fn draw_font(mask: &mut Mask, c: char, bold: bool) -> bool {
    let Some(glyph) = unifont::get_glyph(c) else {
        return false;
    };
    let cell_w = mask.w;
    // Unifont draws some narrow symbols (✓, ✗, ★ …) 16 pixels wide. The cell
    // is what ratatui laid out, so squeeze those into it rather than spill
    // over the neighbour.
    let squeeze = glyph.is_fullwidth() && cell_w < 2 * CELL_W;
    let glyph_w = if squeeze { 8 } else { glyph.get_width() };
    let x0 = if cell_w >= 2 * CELL_W {
        (cell_w - glyph_w) / 2
    } else {
        GLYPH_X
    };
    for gy in 0..16 {
        for gx in 0..glyph_w {
            let on = if squeeze {
                glyph.get_pixel(2 * gx, gy) || glyph.get_pixel(2 * gx + 1, gy)
            } else {
                glyph.get_pixel(gx, gy)
            };
            if on {
                let (x, y) = ((x0 + gx) as i32, (GLYPH_Y + gy) as i32);
                mask.put(x, y, 255);
                // Classic bitmap emboldening: smear each pixel one to the right.
                if bold {
                    mask.put(x + 1, y, 255);
                }
            }
        }
    }
    true
}

/// Stroke weight of one arm of a box-drawing character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Weight {
    None,
    Light,
    Heavy,
    Double,
}

impl Weight {
    fn from_byte(b: u8) -> Self {
        match b {
            b'l' => Weight::Light,
            b'h' => Weight::Heavy,
            b'd' => Weight::Double,
            _ => Weight::None,
        }
    }

    /// Distance from the centre line to the stroke's outermost pixel row/column.
    fn half_span(self) -> i32 {
        match self {
            Weight::None | Weight::Light => 0,
            Weight::Heavy => 1,
            Weight::Double => 2,
        }
    }
}

/// Arms of U+2500..U+257F as up, right, down, left: `.` none, `l` light,
/// `h` heavy, `d` double. Empty entries (dashes, arcs, diagonals) are drawn
/// by dedicated code.
#[rustfmt::skip]
const BOX_ARMS: [&str; 128] = [
    // 2500
    ".l.l", ".h.h", "l.l.", "h.h.", "", "", "", "", "", "", "", "",
    ".ll.", ".hl.", ".lh.", ".hh.",
    // 2510
    "..ll", "..lh", "..hl", "..hh", "ll..", "lh..", "hl..", "hh..",
    "l..l", "l..h", "h..l", "h..h", "lll.", "lhl.", "hll.", "llh.",
    // 2520
    "hlh.", "hhl.", "lhh.", "hhh.", "l.ll", "l.lh", "h.ll", "l.hl",
    "h.hl", "h.lh", "l.hh", "h.hh", ".lll", ".llh", ".hll", ".hlh",
    // 2530
    ".lhl", ".lhh", ".hhl", ".hhh", "ll.l", "ll.h", "lh.l", "lh.h",
    "hl.l", "hl.h", "hh.l", "hh.h", "llll", "lllh", "lhll", "lhlh",
    // 2540
    "hlll", "llhl", "hlhl", "hllh", "hhll", "llhh", "lhhl", "hhlh",
    "lhhh", "hlhh", "hhhl", "hhhh", "", "", "", "",
    // 2550
    ".d.d", "d.d.", ".dl.", ".ld.", ".dd.", "..ld", "..dl", "..dd",
    "ld..", "dl..", "dd..", "l..d", "d..l", "d..d", "ldl.", "dld.",
    // 2560
    "ddd.", "l.ld", "d.dl", "d.dd", ".dld", ".ldl", ".ddd", "ld.d",
    "dl.l", "dd.d", "ldld", "dldl", "dddd", "", "", "",
    // 2570
    "", "", "", "", "...l", "l...", ".l..", "..l.",
    "...h", "h...", ".h..", "..h.", ".h.l", "l.h.", ".l.h", "h.l.",
];

/// Centre pixel of the cell; strokes are symmetric about it, so a line
/// leaving one cell's edge meets the next cell's line exactly.
const CX: i32 = (CELL_W / 2) as i32;
const CY: i32 = (CELL_H / 2) as i32;

fn draw_box(mask: &mut Mask, c: char) -> bool {
    let i = (u32::from(c) - 0x2500) as usize;
    match i {
        0x04..=0x0b | 0x4c..=0x4f => draw_dashes(mask, i),
        0x6d..=0x70 => draw_arc(mask, i),
        0x71..=0x73 => draw_diagonals(mask, i),
        _ => {
            let arms = BOX_ARMS[i].as_bytes();
            if arms.len() != 4 {
                return false;
            }
            let [u, r, d, l] = [0, 1, 2, 3].map(|k| Weight::from_byte(arms[k]));
            // (arm, the arm on its negative side, the one on its positive side,
            // the opposite arm, direction along the arm, is it vertical)
            let all = [
                (u, l, r, d, -1, true),
                (d, l, r, u, 1, true),
                (l, u, d, r, -1, false),
                (r, u, d, l, 1, false),
            ];
            for (arm, neg, pos, opposite, dir, vertical) in all {
                draw_arm(mask, arm, [neg, pos], opposite, dir, vertical);
            }
        }
    }
    true
}

/// Draws one arm from near the centre to the cell edge. Where it starts
/// depends on the arms across it, so that heavy corners are square and the
/// two strokes of a double line turn into nested corners (╔) or stop at the
/// crossing line (╠, ╬) instead of running through it.
fn draw_arm(
    mask: &mut Mask,
    arm: Weight,
    perps: [Weight; 2],
    opposite: Weight,
    dir: i32,
    vertical: bool,
) {
    let bands: &[(i32, usize)] = match arm {
        Weight::None => return,
        Weight::Light => &[(0, 2)],
        Weight::Heavy => &[(-1, 2), (0, 2), (1, 2)],
        Weight::Double => &[(-2, 0), (2, 1)],
    };
    for &(offset, side) in bands {
        let start = match arm {
            Weight::Double => {
                let (near, far) = (perps[side], perps[1 - side]);
                if near != Weight::None {
                    near.half_span()
                } else if far != Weight::None {
                    -far.half_span()
                } else {
                    0
                }
            }
            _ => {
                let any_double = perps.contains(&Weight::Double);
                if any_double && opposite == Weight::None {
                    Weight::Double.half_span()
                } else {
                    -perps
                        .iter()
                        .filter(|w| **w != Weight::Double)
                        .map(|w| w.half_span())
                        .max()
                        .unwrap_or(0)
                }
            }
        };
        let (centre, across, len) = if vertical {
            (CY, CX, CELL_H as i32)
        } else {
            (CX, CY, CELL_W as i32)
        };
        let from = centre + dir * start;
        let (a0, a1) = if dir > 0 { (from, len) } else { (0, from + 1) };
        let b = across + offset;
        if vertical {
            mask.fill(b, a0, b + 1, a1, 255);
        } else {
            mask.fill(a0, b, a1, b + 1, 255);
        }
    }
}

fn draw_dashes(mask: &mut Mask, i: usize) {
    // (segments, heavy, vertical)
    let (n, heavy, vertical) = match i {
        0x04..=0x07 => (3, i % 2 == 1, i >= 0x06),
        0x08..=0x0b => (4, i % 2 == 1, i >= 0x0a),
        _ => (2, i % 2 == 1, i >= 0x4e),
    };
    let len = if vertical { CELL_H } else { CELL_W } as f32;
    let step = len / n as f32;
    let half = if heavy { 1 } else { 0 };
    for k in 0..n {
        // Centre each dash in its slot so dashes stay evenly spaced across cells.
        let a0 = (k as f32 * step + step * 0.25).round() as i32;
        let a1 = ((k as f32 + 1.0) * step - step * 0.25).round() as i32;
        let a1 = a1.max(a0 + 1);
        if vertical {
            mask.fill(CX - half, a0, CX + half + 1, a1, 255);
        } else {
            mask.fill(a0, CY - half, a1, CY + half + 1, 255);
        }
    }
}

/// ╭╮╯╰: a quarter circle joined by straight stubs to the two edge midpoints.
fn draw_arc(mask: &mut Mask, i: usize) {
    // Direction of the two arms: (horizontal, vertical).
    let (hx, vy) = match i {
        0x6d => (1, 1),   // ╭ down and right
        0x6e => (-1, 1),  // ╮ down and left
        0x6f => (-1, -1), // ╯ up and left
        _ => (1, -1),     // ╰ up and right
    };
    let r = CX
        .min(CY)
        .min(CELL_W as i32 - 1 - CX)
        .min(CELL_H as i32 - 1 - CY);
    let (cx, cy) = (CX as f32 + 0.5, CY as f32 + 0.5);
    let (ox, oy) = (cx + (hx * r) as f32, cy + (vy * r) as f32);
    let rf = r as f32;
    mask.shade(
        |x, y| {
            // Only the quadrant of the circle facing the cell centre.
            let in_x = (x - ox) * hx as f32 <= 0.0;
            let in_y = (y - oy) * vy as f32 <= 0.0;
            (in_x && in_y).then(|| ((x - ox).hypot(y - oy) - rf).abs())
        },
        0.5,
    );
    let (ex, ey) = (CX + hx * r, CY + vy * r);
    if hx > 0 {
        mask.fill(ex, CY, CELL_W as i32, CY + 1, 255);
    } else {
        mask.fill(0, CY, ex + 1, CY + 1, 255);
    }
    if vy > 0 {
        mask.fill(CX, ey, CX + 1, CELL_H as i32, 255);
    } else {
        mask.fill(CX, 0, CX + 1, ey + 1, 255);
    }
}

/// ╱╲╳ run corner to corner so they continue into diagonal neighbours.
fn draw_diagonals(mask: &mut Mask, i: usize) {
    let (w, h) = (CELL_W as f32, CELL_H as f32);
    let norm = w.hypot(h);
    if i != 0x72 {
        // ╱: from bottom-left to top-right.
        mask.shade(|x, y| Some((h * x + w * y - w * h).abs() / norm), 0.5);
    }
    if i != 0x71 {
        // ╲: from top-left to bottom-right.
        mask.shade(|x, y| Some((h * x - w * y).abs() / norm), 0.5);
    }
}

/// Rounds `len * num / den`, so that complementary partial blocks (▌▐, ▀▄)
/// split the cell at the same pixel.
fn frac(len: usize, num: usize, den: usize) -> i32 {
    ((len * num + den / 2) / den) as i32
}

fn draw_block(mask: &mut Mask, c: char) -> bool {
    let (w, h) = (CELL_W as i32, CELL_H as i32);
    let (mx, my) = (frac(CELL_W, 1, 2), frac(CELL_H, 1, 2));
    let i = u32::from(c) - 0x2580;
    match i {
        0x00 => mask.fill(0, 0, w, my, 255),
        // ▁..█: lower eighths.
        0x01..=0x08 => mask.fill(0, h - frac(CELL_H, i as usize, 8), w, h, 255),
        // ▉..▏: left eighths, from seven down to one.
        0x09..=0x0f => mask.fill(0, 0, frac(CELL_W, 16 - i as usize, 8), h, 255),
        0x10 => mask.fill(mx, 0, w, h, 255),
        0x11 => mask.fill(0, 0, w, h, 64),
        0x12 => mask.fill(0, 0, w, h, 128),
        0x13 => mask.fill(0, 0, w, h, 192),
        0x14 => mask.fill(0, 0, w, frac(CELL_H, 1, 8), 255),
        0x15 => mask.fill(w - frac(CELL_W, 1, 8), 0, w, h, 255),
        _ => {
            // Quadrants ▖▗▘▙▚▛▜▝▞▟ as bits: upper-left, upper-right,
            // lower-left, lower-right.
            const QUADS: [u8; 10] = [
                0b0010, 0b0001, 0b1000, 0b1011, 0b1001, 0b1110, 0b1101, 0b0100, 0b0110, 0b0111,
            ];
            let bits = QUADS[(i - 0x16) as usize];
            let rects = [
                (0b1000, 0, 0, mx, my),
                (0b0100, mx, 0, w, my),
                (0b0010, 0, my, mx, h),
                (0b0001, mx, my, w, h),
            ];
            for (bit, x0, y0, x1, y1) in rects {
                if bits & bit != 0 {
                    mask.fill(x0, y0, x1, y1, 255);
                }
            }
        }
    }
    true
}

/// Solid triangles (▲▶▼◀ and the small ▴▸▾◂). TUIs use them as selection
/// markers and Unifont draws them only five pixels wide, which reads as a
/// speck in a screenshot; these fill the glyph box like a typical terminal
/// font does.
fn draw_triangle(mask: &mut Mask, c: char) -> bool {
    let small = matches!(c, '▴' | '▸' | '▾' | '◂');
    // Half extents across and along the pointing direction, around the centre
    // of the lower-case letters so a marker lines up with the text after it.
    let (across, along) = if small { (3.0, 2.5) } else { (4.5, 3.5) };
    let (cx, cy) = (CELL_W as f32 / 2.0, (GLYPH_Y + 9) as f32);
    let (dx, dy) = match c {
        '▲' | '▴' => (0.0, -1.0),
        '▼' | '▾' => (0.0, 1.0),
        '◀' | '◂' | '◄' => (-1.0, 0.0),
        _ => (1.0, 0.0),
    };
    // Tip, and the two base corners on the opposite side.
    let tip = (cx + dx * along, cy + dy * along);
    let base = (cx - dx * along, cy - dy * along);
    let (px, py) = (-dy * across, dx * across);
    let tri = [tip, (base.0 + px, base.1 + py), (base.0 - px, base.1 - py)];
    mask.fill_polygon(&tri);
    true
}

/// Braille patterns, as drawn by ratatui's canvas: eight round dots in a 2x4 grid.
fn draw_braille(mask: &mut Mask, c: char) -> bool {
    let bits = u32::from(c) - 0x2800;
    // Unicode's dot numbering: 1-3 and 7 down the left, 4-6 and 8 down the right.
    const DOTS: [(usize, usize); 8] = [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
        (0, 3),
        (1, 3),
    ];
    for (bit, (col, row)) in DOTS.iter().enumerate() {
        if bits & (1 << bit) != 0 {
            let dx = CELL_W as f32 * (0.25 + 0.5 * *col as f32);
            let dy = CELL_H as f32 * (0.125 + 0.25 * *row as f32);
            mask.shade(|x, y| Some((x - dx).hypot(y - dy)), 1.0);
        }
    }
    true
}

/// Sextants (U+1FB00..): a 2x3 grid of blocks, used by ratatui's canvas.
fn draw_sextant(mask: &mut Mask, c: char) -> bool {
    // The block lists patterns 1..=62 in order but skips the two that already
    // exist elsewhere (left half = 21, right half = 42).
    let mut bits = u32::from(c) - 0x1fb00 + 1;
    if bits >= 21 {
        bits += 1;
    }
    if bits >= 42 {
        bits += 1;
    }
    let xs = [0, frac(CELL_W, 1, 2), CELL_W as i32];
    let ys = [0, frac(CELL_H, 1, 3), frac(CELL_H, 2, 3), CELL_H as i32];
    for k in 0..6 {
        if bits & (1 << k) != 0 {
            let (col, row) = (k % 2, k / 2);
            mask.fill(xs[col], ys[row], xs[col + 1], ys[row + 1], 255);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;
    use std::io::BufReader;

    /// Writes `buf` through the public entry point and decodes the PNG back,
    /// so the tests cover the encoder too.
    fn round_trip(buf: &Buffer, name: &str) -> (usize, usize, Vec<u8>) {
        let path = std::env::temp_dir().join(format!(
            "portscope-raster-{}-{name}.png",
            std::process::id()
        ));
        buffer_to_png(buf, &path).expect("write png");
        let file = File::open(&path).expect("open png");
        let mut reader = png::Decoder::new(BufReader::new(file))
            .read_info()
            .expect("png header");
        let size = reader.output_buffer_size().expect("buffer size");
        let mut px = vec![0; size];
        let info = reader.next_frame(&mut px).expect("png frame");
        std::fs::remove_file(&path).expect("remove png");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        px.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, px)
    }

    fn pixel(img: &(usize, usize, Vec<u8>), x: usize, y: usize) -> Rgb {
        let i = (y * img.0 + x) * 3;
        [img.2[i], img.2[i + 1], img.2[i + 2]]
    }

    fn cell_pixels(img: &(usize, usize, Vec<u8>), col: usize) -> Vec<Rgb> {
        let mut out = Vec::new();
        for y in 0..CELL_H {
            for x in col * CELL_W..(col + 1) * CELL_W {
                out.push(pixel(img, x, y));
            }
        }
        out
    }

    #[test]
    fn colours_and_full_block() {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 3, 1));
        buf[(0, 0)].set_symbol(" ").set_bg(Color::Red);
        buf[(1, 0)].set_symbol("█").set_fg(Color::Green);
        buf[(2, 0)]
            .set_symbol("A")
            .set_style(Style::new().fg(Color::Rgb(1, 2, 3)).bg(Color::Indexed(21)));
        let img = round_trip(&buf, "colours");
        assert_eq!((img.0, img.1), (3 * CELL_W, CELL_H));

        assert!(cell_pixels(&img, 0).iter().all(|p| *p == ANSI[1]));
        assert!(cell_pixels(&img, 1).iter().all(|p| *p == ANSI[2]));
        // Indexed 21 is the cube's pure blue; the glyph shows in the exact RGB.
        let third = cell_pixels(&img, 2);
        assert_eq!(third[0], [0, 0, 255]);
        assert!(third.contains(&[1, 2, 3]));
        assert!(third.iter().all(|p| *p == [0, 0, 255] || *p == [1, 2, 3]));
    }

    #[test]
    fn reversed_dim_and_reset() {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 3, 1));
        buf[(0, 0)].set_symbol(" ");
        buf[(1, 0)]
            .set_symbol(" ")
            .set_style(Style::new().add_modifier(Modifier::REVERSED));
        buf[(2, 0)].set_symbol("█").set_style(
            Style::new()
                .fg(Color::White)
                .bg(Color::Black)
                .add_modifier(Modifier::DIM),
        );
        let img = round_trip(&buf, "modifiers");
        assert_eq!(pixel(&img, 4, 9), DEFAULT_BG);
        assert_eq!(pixel(&img, CELL_W + 4, 9), DEFAULT_FG);
        // DIM: white ink halfway towards the black background.
        let dim = pixel(&img, 2 * CELL_W + 4, 9);
        assert!(dim.iter().all(|v| (126..=129).contains(v)), "{dim:?}");
    }

    #[test]
    fn box_lines_join_across_cells() {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 3, 3));
        buf.set_string(0, 0, "╭─╮", Style::new());
        buf.set_string(0, 1, "│┼║", Style::new());
        buf.set_string(0, 2, "╰═╝", Style::new());
        let img = round_trip(&buf, "box");
        let cy = CY as usize;
        let cx = CX as usize;
        // The top border is unbroken from the arc's stub to the next arc's.
        for x in CELL_W - 1..=2 * CELL_W {
            assert_eq!(pixel(&img, x, cy), DEFAULT_FG, "top row at x={x}");
        }
        // The left border runs from the top arc through the middle cell.
        for y in CELL_H..2 * CELL_H {
            assert_eq!(pixel(&img, cx, y), DEFAULT_FG, "left column at y={y}");
        }
        // ╝ is two nested corners: ═'s upper stroke turns up into ║'s left
        // stroke, ═'s lower stroke into ║'s right one, and nothing crosses.
        let bottom = 2 * CELL_H + cy;
        let (inner, outer) = (2 * CELL_W + cx - 2, 2 * CELL_W + cx + 2);
        let fg = |x, y| pixel(&img, x, y) == DEFAULT_FG;
        for x in CELL_W..=inner {
            assert!(fg(x, bottom - 2), "═ upper stroke at x={x}");
        }
        for x in CELL_W..=outer {
            assert!(fg(x, bottom + 2), "═ lower stroke at x={x}");
        }
        for y in CELL_H..=bottom - 2 {
            assert!(fg(inner, y), "║ left stroke at y={y}");
        }
        for y in CELL_H..=bottom + 2 {
            assert!(fg(outer, y), "║ right stroke at y={y}");
        }
        assert!(!fg(inner + 1, bottom - 2), "upper stroke overshoots");
        assert!(!fg(inner, bottom - 1), "left stroke overshoots");
        assert!(!fg(outer + 1, bottom + 2), "lower stroke overshoots");
        assert!(!fg(outer, bottom + 3), "right stroke overshoots");
    }

    #[test]
    fn every_box_and_block_char_draws_something() {
        let chars = (0x2500..=0x259f)
            .chain(0x2801..=0x28ff)
            .chain(0x1fb00..=0x1fb3b);
        for c in chars.filter_map(char::from_u32) {
            let mask = glyph_mask(&c.to_string(), 1, false);
            assert!(mask.a.iter().any(|a| *a > 0), "{c:?} drew nothing");
        }
    }

    #[test]
    fn unknown_and_wide_glyphs_do_not_panic() {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 6, 1));
        buf.set_string(0, 0, "\u{10fffd}端✓", Style::new().fg(Color::Yellow));
        // A wide character cut off at the last column.
        buf[(5, 0)].set_symbol("口");
        let img = round_trip(&buf, "unknown");
        // The replacement box has ink in the middle of its left edge.
        assert_eq!(pixel(&img, 1, GLYPH_Y + 8), ANSI[3]);
        // The wide glyph reaches into its second cell.
        let second_half = cell_pixels(&img, 2);
        assert!(second_half.contains(&ANSI[3]));
    }
}
