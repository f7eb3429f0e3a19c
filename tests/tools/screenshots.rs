//! Writes screenshots/*.png: each view of the TUI, rendered from the incident recording in
//! assets/incident.json exactly as `portscope --replay assets/incident.json` shows it.
//!
//!     cargo run --example screenshots
#![allow(clippy::pedantic)]
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

    // The Failures view over the incident: the refusals a recorder's log would hold.
    let mut app = fresh();
    keys(&mut app, "5");
    app.update(Msg::Recorder(portscope::tui::app::RecorderState::Log(
        "/var/lib/portscope/failures.log".into(),
    )));
    app.update(Msg::Refused {
        list: incident_refusals(),
        replace: true,
    });
    shot(&app, "10-failures", 120, 35)?;
    shot(&app, "10-failures-80x24", 80, 24)?;
    keys(&mut app, "jj\n");
    shot(&app, "10-failures-why-then", 120, 35)?;
    Ok(())
}

/// What the flight recorder logged around the incident: the billing worker's outgoing
/// connection took 10080 before the service could bind it, again and again.
fn incident_refusals() -> Vec<portscope::watch::failures::Refusal> {
    let java = serde_json::json!({"pid": 14467, "comm": "java",
        "cmdline": "java -Xmx2g -jar /opt/billing/worker.jar", "uid": 0, "user": "root",
        "start_time": 110113, "unit": "billing-worker.service"});
    let api = serde_json::json!({"pid": 15210, "comm": "api", "cmdline": "/opt/api/bin/api --port 10080",
        "uid": 998, "user": "api", "start_time": 120001, "unit": "api.service"});
    let bind = |t: &str| {
        serde_json::json!({
            "time": t, "call": "bind", "errno": "EADDRINUSE", "pid": 15210, "tid": 15210,
            "comm": "api", "uid": 998, "user": "api", "owner": api,
            "request": {"family": "ipv4", "address": "0.0.0.0", "port": 10080, "proto": "tcp",
                        "options": {"known": true, "reuseaddr": true}},
            "holders": [{"proto": "tcp", "local_addr": "127.0.0.1", "local_port": 10080,
                         "remote_addr": "127.0.0.1", "remote_port": 5432, "state": "ESTABLISHED",
                         "owner": java}],
            "why": "port 10080 is held by java (pid 14467) (tcp 127.0.0.1:10080 ESTAB); it is an outgoing connection the kernel gave this port (reserve the port in ip_local_reserved_ports)",
        })
    };
    [
        bind("2026-11-21T06:25:02.114907Z"),
        serde_json::json!({
            "time": "2026-11-21T06:25:40.550120Z", "call": "connect", "errno": "EADDRNOTAVAIL",
            "pid": 14467, "tid": 14490, "comm": "java", "uid": 0, "user": "root", "owner": java,
            "request": {"family": "ipv6", "address": "2001:db8:4006:812::200e", "port": 443,
                        "proto": "tcp", "options": {"known": false}},
            "why": "no local port left toward [2001:db8:4006:812::200e]:443: 28232 of 28232 usable ports in use; busiest: java (pid 14467) with 28190 ports",
        }),
        serde_json::json!({
            "time": "2026-11-21T06:26:11.003311Z", "call": "bind", "errno": "EACCES",
            "pid": 15302, "tid": 15302, "comm": "metrics-agent", "uid": 65534, "user": "nobody",
            "request": {"family": "ipv4", "address": "0.0.0.0", "port": 443, "proto": "tcp",
                        "options": {"known": true}},
            "privilege": {"unprivileged_port_start": 1024, "cap_net_bind_service": false},
            "why": "port 443 is below net.ipv4.ip_unprivileged_port_start (1024) and the caller lacks CAP_NET_BIND_SERVICE (AmbientCapabilities=CAP_NET_BIND_SERVICE in its unit, or setcap)",
        }),
        bind("2026-11-21T06:27:19.804211Z"),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect()
}
