//! Geometry shared by the views and the frame: popups and scroll windows. Kept apart from
//! `draw` so the views never import the frame that calls them.

use ratatui::layout::Rect;

/// A centred rectangle for popups, clamped to the screen.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Keeps `selected` inside the window of `visible` rows starting at `offset`.
pub fn scroll_window(selected: usize, offset: usize, visible: usize, len: usize) -> usize {
    let visible = visible.max(1);
    let mut off = offset.min(len.saturating_sub(visible));
    if selected < off {
        off = selected;
    } else if selected >= off + visible {
        off = selected + 1 - visible;
    }
    off
}
