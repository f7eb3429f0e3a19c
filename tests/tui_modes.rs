//! Key sequences through the input modes: each table keeps its own filter, esc closes only the
//! topmost thing, keys typed into a field are text (q too), and what dialogs show is computed
//! when keys and data arrive, not when drawing.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::model::test_support::{listener, outgoing, snapshot, with_state};
use portscope::model::{Snapshot, State};
use portscope::tui::app::{App, Effect, Modal, Mode, Msg, View};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, render_offscreen};
use std::sync::Arc;

fn sample() -> Snapshot {
    snapshot(vec![
        listener(22),
        listener(80),
        listener(8080),
        listener(40000),
        outgoing(45000, 5432),
        with_state(outgoing(8080, 41000), State::TimeWait),
    ])
}

fn app_with(snap: Snapshot) -> App {
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::new(snap), None));
    app
}

fn footer(app: &App) -> String {
    let text = buffer_text(&render_offscreen(
        app,
        &Theme::defaults(true),
        &Clock::fixed(jiff::Timestamp::UNIX_EPOCH),
        100,
        24,
    ));
    text.lines().last().unwrap_or_default().to_string()
}

#[test]
fn each_view_keeps_its_own_filter_and_the_footer_shows_the_one_on_screen() {
    let mut app = app_with(sample());
    app.type_keys("2/8080\n");
    assert_eq!(app.conns.rows.len(), 1, "Connections filtered");
    assert!(footer(&app).contains("filter: 8080"), "{}", footer(&app));
    app.type_keys("1");
    assert_eq!(app.listeners.rows.len(), 4, "Listeners untouched");
    assert_eq!(app.filter_text(), "");
    assert!(!footer(&app).contains("filter:"), "{}", footer(&app));
    // n in Listeners knows it has no search of its own.
    app.type_keys("n");
    assert!(app.note.as_deref().unwrap_or("").contains("no search"));
    app.type_keys("/22\n");
    assert_eq!(app.listeners.rows.len(), 1);
    app.type_keys("2");
    assert_eq!(
        app.filter_text(),
        "8080",
        "Connections still has its filter"
    );
    assert_eq!(app.conns.rows.len(), 1);
    // Esc clears the filter of the view on screen only.
    app.type_keys("\x1b");
    assert_eq!(app.conns.rows.len(), 2);
    app.type_keys("1");
    assert_eq!(app.filter_text(), "22");
    assert_eq!(app.listeners.rows.len(), 1);
    // New data is filtered per view too.
    app.update(Msg::data(Arc::new(sample()), None));
    assert_eq!((app.listeners.rows.len(), app.conns.rows.len()), (1, 2));
}

#[test]
fn switching_view_while_typing_a_filter_is_not_possible_keys_are_text() {
    let mut app = app_with(sample());
    app.type_keys("/2");
    assert!(matches!(app.mode, Mode::Filter));
    assert_eq!(app.view, View::Listeners, "2 was typed, not a view switch");
    assert_eq!(app.filter_text(), "2");
    app.type_keys("\t");
    assert_eq!(app.view, View::Listeners);
}

#[test]
fn q_inside_a_field_or_text_dialog_types_q() {
    let mut app = app_with(sample());
    let effects = app.type_keys("/q");
    assert!(!effects.contains(&Effect::Quit));
    assert_eq!(app.filter_text(), "q");
    let effects = app.type_keys("\x1b4eq");
    assert!(app.why_editing());
    assert_eq!(app.why.input.value(), "q");
    assert!(!effects.contains(&Effect::Quit));
    // Tab away first: in a why view with no question asked, a digit starts the port field.
    let effects = app.type_keys("\x1b\t3:q");
    match app.modal() {
        Some(Modal::Goto(input)) => assert_eq!(input.value(), "q"),
        other => panic!("{other:?}"),
    }
    assert!(!effects.contains(&Effect::Quit));
    // ctrl-c is not typing: it quits from a field too.
    app.type_keys("\x1b4e");
    let ctrl_c = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('c'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    assert_eq!(app.update(Msg::Key(ctrl_c)), vec![Effect::Quit]);
}

#[test]
fn esc_closes_only_the_topmost_thing() {
    let mut app = app_with(sample());
    // Detail over a filtered table: esc closes the detail, the filter stays.
    app.type_keys("2/8080\n\n");
    assert!(matches!(app.modal(), Some(Modal::Detail { .. })));
    app.type_keys("\x1b");
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.filter_text(), "8080");
    app.type_keys("\x1b");
    assert_eq!(app.filter_text(), "", "the next esc clears the filter");
    // Go-to over a zoomed map: esc closes the dialog, the zoom stays; the next esc zooms out.
    app.type_keys("3++:");
    assert!(matches!(app.modal(), Some(Modal::Goto(_))));
    app.type_keys("\x1b");
    assert!(app.modal().is_none());
    assert_eq!(app.map.zoom, 2);
    app.type_keys("\x1b");
    assert_eq!(app.map.zoom, 1);
    // The why field: esc leaves the field, the view stays.
    app.type_keys("4e80");
    assert!(app.why_editing());
    app.type_keys("\x1b");
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.view, View::Why);
    // Help: esc closes it, nothing under it changes.
    app.type_keys("?");
    assert!(matches!(app.modal(), Some(Modal::Help { .. })));
    app.type_keys("/");
    assert!(
        matches!(app.modal(), Some(Modal::Help { .. })),
        "keys under help reach help only"
    );
    app.type_keys("\x1b");
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.view, View::Why);
}

#[test]
fn e_opens_the_why_field_once_and_enter_leaves_it() {
    let mut app = app_with(sample());
    app.type_keys("4");
    assert!(matches!(app.mode, Mode::Normal), "4 opens the view only");
    let effects = app.type_keys("e8080\n");
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.why.request.as_ref().map(|r| r.port), Some(8080));
    assert!(effects.contains(&Effect::RefreshNow));
    // A bad port keeps the field open with the error; the request stays the last good one.
    app.type_keys("ex\n");
    assert!(app.why_editing());
    assert!(app.why.error.is_some());
    assert_eq!(app.why.request.as_ref().map(|r| r.port), Some(8080));
}

#[test]
fn the_reservation_plan_is_made_as_the_ports_are_typed() {
    let mut app = app_with(sample());
    app.actions.is_root = true;
    app.type_keys("jjjR");
    let preview = |app: &App| match app.modal() {
        Some(Modal::Reserve(d)) => d.preview.clone(),
        other => panic!("{other:?}"),
    };
    let plan = preview(&app).unwrap();
    assert!(plan.plan.added.contains(40000), "{:?}", plan.plan.added);
    app.type_keys(",x");
    let err = preview(&app).unwrap_err().to_string();
    assert!(err.contains("not a number") || err.contains("x"), "{err}");
    // Backspace: the plan is back, with the port typed so far.
    let bs = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Backspace,
        crossterm::event::KeyModifiers::NONE,
    );
    app.update(Msg::Key(bs));
    app.update(Msg::Key(bs));
    assert!(preview(&app).is_ok());
    // New data under the open planner: the plan is redone against it (40000 reserved now).
    let mut next = sample();
    next.sysctl.ip_local_reserved_ports = portscope::portset::PortSet::parse("40000").unwrap();
    app.update(Msg::data(Arc::new(next), None));
    let plan = preview(&app).unwrap();
    assert_eq!(plan.plan.proposed, plan.plan.current, "already reserved");
}

#[test]
fn the_detail_pane_is_looked_up_when_it_opens_and_on_new_data() {
    let mut app = app_with(sample());
    app.type_keys("jj\n");
    match app.modal() {
        Some(Modal::Detail { pane, key, .. }) => {
            assert_eq!(pane.socket.as_ref().map(|s| s.key()), Some(*key));
            assert_eq!(key.local.1, 8080);
        }
        other => panic!("{other:?}"),
    }
    // The socket closes: the next snapshot says so in the open pane.
    app.update(Msg::data(
        Arc::new(snapshot(vec![listener(22), listener(80)])),
        None,
    ));
    match app.modal() {
        Some(Modal::Detail { pane, .. }) => assert!(pane.socket.is_none()),
        other => panic!("{other:?}"),
    }
    let text = buffer_text(&render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(jiff::Timestamp::UNIX_EPOCH),
        100,
        30,
    ));
    assert!(text.contains("This socket is gone"), "{text}");
}

#[test]
fn one_data_message_with_or_without_derivations() {
    let snap = Arc::new(sample());
    let derived = Arc::new(portscope::analyze::Derived::of(&snap));
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::Data(portscope::tui::app::Data {
        snap: Arc::clone(&snap),
        diagnosis: None,
        derived: Some(Arc::clone(&derived)),
        conns_as_of: None,
        live: None,
    }));
    assert!(
        app.feed
            .derived
            .as_ref()
            .is_some_and(|d| Arc::ptr_eq(d, &derived)),
        "the collector's derivations are used as they are"
    );
    app.update(Msg::data(Arc::clone(&snap), None));
    let made = app.feed.derived.clone().unwrap();
    assert!(!Arc::ptr_eq(&made, &derived), "made on receipt when absent");
    assert_eq!(made.summary.by_state, derived.summary.by_state);
}

/// Availability comes from the command table: a command with views listed in its row does
/// nothing elsewhere and says where it works; where it works, it never says so.
#[test]
fn a_command_works_in_the_views_its_table_row_names_and_says_so_elsewhere() {
    use portscope::tui::commands::{TABLE, Views, view_words};
    let mut checked = 0;
    for def in TABLE {
        let Views::Only(views, does) = def.views else {
            continue;
        };
        for (i, view) in View::ALL.iter().enumerate() {
            let mut app = app_with(sample());
            app.type_keys(&(i + 1).to_string());
            assert_eq!(app.view, *view);
            let key = app.keymap.keys_for(def.cmd)[0];
            let mods = if key.ctrl {
                crossterm::event::KeyModifiers::CONTROL
            } else {
                crossterm::event::KeyModifiers::NONE
            };
            let effects = app.update(Msg::Key(crossterm::event::KeyEvent::new(key.code, mods)));
            let note = app.note.clone().unwrap_or_default();
            if views.contains(view) {
                assert!(!note.contains(" only"), "{} in {view:?}: {note}", def.name);
            } else {
                assert_eq!(
                    note,
                    format!(
                        "{}: {does} in {} only",
                        app.keymap.label(def.cmd),
                        view_words(views)
                    ),
                    "{} in {view:?}",
                    def.name
                );
                assert_eq!(app.view, *view, "{} changed view", def.name);
                assert!(matches!(app.mode, Mode::Normal), "{} in {view:?}", def.name);
                assert!(effects.is_empty(), "{} in {view:?}: {effects:?}", def.name);
            }
            checked += 1;
        }
    }
    assert!(checked >= 16 * View::ALL.len(), "{checked}");
}
