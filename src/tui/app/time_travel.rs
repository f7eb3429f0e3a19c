//! `[` and `]` on the app: the history itself is kept in `tui::travel`.

use super::{App, Data};
use crate::analyze::Derived;
use std::sync::Arc;

impl App {
    /// Puts a snapshot from history on screen (the why diagnosis stays the live one).
    fn show(&mut self, snap: Arc<crate::model::Snapshot>, derived: Arc<Derived>) {
        let diagnosis = self.feed.diagnosis.clone();
        self.apply(Data {
            snap,
            diagnosis,
            derived: Some(derived),
            conns_as_of: None,
            live: None,
        });
    }
}

/// `[` (back = true) or `]`: moves the screen one moment back or forward. Returns a note for
/// the status line when there is nowhere to go.
pub fn step(app: &mut App, back: bool) -> Option<String> {
    let moments = app.travel.moments();
    let live = match (&app.travel.live, &app.feed.snap) {
        (Some(l), _) => Arc::clone(l),
        (None, Some(d)) => Arc::clone(d),
        (None, None) => return Some("no data yet".into()),
    };
    // The present is the newest moment; the past starts one before it.
    let idx = match app.travel.at {
        None => moments.len().checked_sub(1),
        Some(t) => moments.iter().position(|m| *m == t),
    };
    let Some(idx) = idx else {
        return Some("no history yet: changes are kept from the first refresh on".into());
    };
    let target = if back {
        match idx.checked_sub(1) {
            Some(i) => Some(moments[i]),
            None => {
                return Some(format!(
                    "nothing earlier: history starts at {} (last hour / 50 MB kept)",
                    moments[0]
                        .to_zoned(app.travel.tz.clone())
                        .strftime("%H:%M:%S")
                ));
            }
        }
    } else if app.travel.at.is_none() {
        return Some("already at the present".into());
    } else if idx + 1 >= moments.len() - 1 {
        None // the newest moment is the present
    } else {
        Some(moments[idx + 1])
    };
    match target {
        Some(t) => {
            if app.travel.at.is_none() {
                app.travel.was_frozen = app.feed.frozen;
                app.travel.live = Some(Arc::clone(&live));
                app.feed.frozen = true;
            }
            app.travel.at = Some(t);
            let past = Arc::new(app.travel.past_snapshot(&live, t));
            let derived = Arc::new(Derived::of(&past));
            app.show(past, derived);
        }
        None => {
            app.travel.at = None;
            app.travel.live = None;
            app.feed.frozen = app.travel.was_frozen;
            let newest = app.feed.pending.take();
            match newest {
                Some(data) if !app.feed.frozen => app.apply(data),
                Some(p) => {
                    app.feed.pending = Some(p);
                    let derived = Arc::new(Derived::of(&live));
                    app.show(live, derived);
                }
                None => {
                    let derived = Arc::new(Derived::of(&live));
                    app.show(live, derived);
                }
            }
        }
    }
    None
}
