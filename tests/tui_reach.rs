//! The detail pane of a listener asks the runtime for its reachability once (reading filter
//! rules runs tools: never per refresh, never on the UI thread) and shows the answer, with the
//! rule text escaped.
#![allow(clippy::unwrap_used)]

use portscope::model::reach::{FilterRule, ReachVerdict, Reachability};
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
        tools: vec![],
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
