//! The detail pane of a listener asks the runtime for its reachability once (reading filter
//! rules runs tools: never per refresh, never on the UI thread) and shows the answer, with the
//! rule text escaped.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)]

use portscope::model::reach::{FilterRule, ReachVerdict, Reachability, ToolRun};
use portscope::model::test_support::{listener, snapshot};
use portscope::model::{Proto, Snapshot};
use portscope::tui::app::{App, Effect, Modal, Mode, Msg, ReachRequest};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, render_offscreen};
use std::sync::Arc;

fn reads(effects: &[Effect]) -> Vec<ReachRequest> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ReadReach(r) => Some(r.as_ref().clone()),
            _ => None,
        })
        .collect()
}

fn render(app: &App, snap: &Snapshot) -> String {
    buffer_text(&render_offscreen(
        app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        120,
        40,
    ))
}

#[test]
fn a_listeners_detail_shows_what_the_firewall_does() {
    let snap = Arc::new(snapshot(vec![listener(8080)]));
    let mut app = App::new(KeyMap::default_map(), false);
    let e = app.update(Msg::data(Arc::clone(&snap), None));
    assert!(reads(&e).is_empty());
    let e = app.type_keys("\n");
    let r = reads(&e);
    assert_eq!(r.len(), 1, "{e:?}");
    assert_eq!((r[0].proto, r[0].port), (Proto::Tcp, 8080));
    assert_eq!(r[0].exposure.families, ["ipv4"]);
    assert!(!render(&app, &snap).contains("reachability"));
    // A refresh does not read the rules again.
    let e = app.update(Msg::data(Arc::clone(&snap), None));
    assert!(reads(&e).is_empty(), "{e:?}");

    let found = Reachability {
        proto: Proto::Tcp,
        port: 8080,
        verdict: ReachVerdict::Blocked,
        rules: vec![FilterRule {
            tool: "nft".into(),
            family: "ipv4".into(),
            table: "inet fw".into(),
            chain: "input".into(),
            rule: "tcp dport 8080 drop comment \"\u{1b}[31mred\"".into(),
            action: "drop".into(),
            sources: "all sources".into(),
            packets: Some(4),
            bytes: None,
        }],
        tools: vec![ToolRun {
            tool: "nft".into(),
            outcome: "ok".into(),
        }],
        notes: vec![],
    };
    app.update(Msg::Reach {
        key: r[0].key,
        found: Box::new(found),
    });
    let text = render(&app, &snap);
    assert!(text.contains("reachability blocked"), "{text}");
    assert!(
        text.contains("drops all sources (ipv4): nft inet fw chain input"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");
    // The answer stays across a refresh.
    app.update(Msg::data(Arc::clone(&snap), None));
    let Mode::Modal(Modal::Detail { pane, .. }) = &app.mode else {
        panic!("detail closed")
    };
    assert!(pane.reach.is_some());
}

#[test]
fn p_writes_the_report_of_the_port_on_screen() {
    let snap = Arc::new(snapshot(vec![listener(8080)]));
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::clone(&snap), None));
    let e = app.type_keys("P");
    let jobs: Vec<&portscope::tui::app::ReportJob> = e
        .iter()
        .filter_map(|e| match e {
            Effect::WriteReport(j) => Some(j.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(jobs.len(), 1, "{e:?}");
    assert_eq!(jobs[0].ports, [(8080, Proto::Tcp)]);
    let name = jobs[0].path.display().to_string();
    assert!(
        name.starts_with("./portscope-report-") && name.ends_with("Z.html"),
        "{name}"
    );
    assert!(render(&app, &snap).contains("writing the report to ./portscope-report-"));
}

mod common;

/// The real binary in a terminal: P writes the file, and the status line names it.
#[test]
fn a_person_presses_p_and_gets_the_report_file() {
    use common::pty::Tui;
    use common::*;
    if !common::private_netns("tui_report") {
        return;
    }
    let l = tcp_listen("0.0.0.0:20150");
    let _holder = hold(&[&std::os::fd::AsFd::as_fd(&l)]);
    drop(l);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let mut tui = Tui::start_in(
        dir.path().to_str().unwrap(),
        &["--interval", "200ms"],
        &[("XDG_CONFIG_HOME", home.to_str().unwrap())],
        120,
        35,
    );
    tui.wait_text("0.0.0.0:20150");
    tui.keys("/20150");
    tui.wait_text("Listeners (1, filtered)");
    tui.keys("\rP");
    let screen = tui.wait_text("wrote ./portscope-report-");
    let name = screen
        .split("wrote ./")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();
    let html = std::fs::read_to_string(dir.path().join(&name)).unwrap();
    assert!(
        html.contains(r#"<section class="port" id="port-20150-tcp">"#),
        "{name}"
    );
    assert!(html.contains(r#"class="holder">sleep (pid "#));
    tui.keys("q");
}
