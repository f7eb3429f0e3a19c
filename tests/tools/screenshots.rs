//! Writes screenshots/*.png: each view of the TUI, rendered from the incident recording in
//! assets/incident.json exactly as `portscope --replay assets/incident.json` shows it.
//!
//!     cargo run --example screenshots
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

#[path = "raster.rs"]
mod raster;

use portscope::ask::recorded;
use portscope::tui::app::{App, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use std::path::Path;
use std::sync::Arc;

fn keys(app: &mut App, text: &str) -> Vec<portscope::tui::app::Effect> {
    app.type_keys(text)
}

fn main() -> std::io::Result<()> {
    let snap = Arc::new(
        portscope::tui::load_replay(Path::new("assets/incident.json"))
            .map_err(std::io::Error::other)?,
    );
    let clock = Clock::fixed(snap.taken_at);
    let theme = Theme::defaults(false);
    std::fs::create_dir_all("screenshots")?;
    let shot = |app: &App, name: &str, w: u16, h: u16| -> std::io::Result<()> {
        let buf = portscope::tui::render_offscreen(app, &theme, &clock, w, h);
        let path = format!("screenshots/{name}.png");
        raster::buffer_to_png(&buf, Path::new(&path))?;
        println!("wrote {path}");
        Ok(())
    };
    let fresh = || {
        let mut app = App::new(KeyMap::default_map(), true);
        app.update(Msg::data(Arc::clone(&snap), None));
        app
    };

    let mut app = fresh();
    shot(&app, "1-listeners", 120, 35)?;
    shot(&app, "1-listeners-80x24", 80, 24)?;
    keys(&mut app, "2");
    shot(&app, "2-connections", 120, 35)?;
    let mut grouped = fresh();
    keys(&mut grouped, "2f");
    shot(&grouped, "2-connections-by-process", 120, 35)?;
    keys(&mut app, "3");
    shot(&app, "3-port-map", 120, 35)?;
    keys(&mut app, ":10080\n");
    shot(&app, "3-port-map-zoomed", 120, 35)?;

    let mut app = fresh();
    keys(&mut app, "4e10080\n");
    if let Some(req) = app.why.request.clone() {
        let diag = recorded(&req, &snap);
        app.update(Msg::data(Arc::clone(&snap), Some(Arc::new(diag))));
    }
    shot(&app, "4-why-10080", 120, 35)?;

    let mut app = fresh();
    keys(&mut app, "2/java\n\n");
    shot(&app, "5-detail-java", 120, 35)?;
    let mut app = fresh();
    keys(&mut app, "?");
    shot(&app, "6-help", 120, 35)?;

    // The action dialogs, as on a live system (a replay disables actions).
    let live = || {
        let mut app = App::new(KeyMap::default_map(), false);
        app.actions.is_root = true;
        app.actions.journal = Some("/root/.local/share/portscope/reserve-journal.json".into());
        app.update(Msg::data(Arc::clone(&snap), None));
        app
    };
    let mut app = live();
    keys(&mut app, "4e10080\n");
    if let Some(req) = app.why.request.clone() {
        let diag = recorded(&req, &snap);
        app.update(Msg::data(Arc::clone(&snap), Some(Arc::new(diag))));
    }
    keys(&mut app, "D");
    shot(&app, "7-close-the-thief", 120, 35)?;
    let mut app = live();
    keys(&mut app, "jjjK");
    shot(&app, "8-confirm-kill", 120, 35)?;
    let mut app = live();
    keys(&mut app, "A");
    shot(&app, "9-reserve-at-risk", 120, 35)?;
    Ok(())
}
