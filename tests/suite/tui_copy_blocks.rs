//! Text meant to be copied (commands, a sysctl.d file, an Ansible task) in dialogs: drawn whole
//! (never wrapped into broken lines), copied with OSC 52, written to a new file. The effects are
//! checked as values; the OSC 52 bytes and the file writes as the runtime does them.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::action::exec::ActionOutcome;
use portscope::model::Snapshot;
use portscope::model::text::Block;
use portscope::tui::app::{App, Effect, Modal, Mode, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::views::copyblock::{MORE_LEFT, MORE_RIGHT};
use portscope::tui::{buffer_text, load_replay, render_offscreen};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn recording() -> Arc<Snapshot> {
    Arc::new(load_replay(Path::new("assets/incident.json")).expect("assets/incident.json"))
}

const LONG: &str = "sysctl -w net.ipv4.ip_local_reserved_ports=8080,9000-9010,10080,20000-20100,30000,31000-31999,32768";

fn blocks() -> Vec<Block> {
    vec![
        Block::new(
            "Run these instead:",
            format!(
                "{LONG}\nprintf '%s\\n' 'net.ipv4.ip_local_reserved_ports = 8080,9000-9010' > /etc/sysctl.d/90-portscope-reserved-ports.conf\nsysctl --system"
            ),
            "portscope-reservation.sh",
        ),
        Block::new(
            "Or for the fleet (Ansible):",
            "- name: reserve ports for services (portscope)\n  ansible.posix.sysctl:\n    name: net.ipv4.ip_local_reserved_ports\n    value: \"8080,9000-9010,10080,20000-20100,30000,31000-31999,32768\"\n    sysctl_file: /etc/sysctl.d/90-portscope-reserved-ports.conf\n    state: present",
            "portscope-reservation.yml",
        ),
    ]
}

/// An app showing an outcome with the two blocks (as the non-root reservation does).
fn app_with_blocks() -> App {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(snap, None));
    let mut o = ActionOutcome::nothing_done(
        "Reservation: run as root",
        vec!["Changing net.ipv4.ip_local_reserved_ports needs root."],
    );
    o.blocks = blocks();
    app.mode = Mode::Modal(Modal::Outcome(o));
    app
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let snap = recording();
    buffer_text(&render_offscreen(
        app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        w,
        h,
    ))
}

/// Every line of the selected block that is on screen is whole, or cut with the marker: it never
/// continues on the next row.
fn assert_unwrapped(text: &str, block: &Block) {
    let rows: Vec<&str> = text.lines().collect();
    let mut seen = 0;
    for line in block.lines() {
        let head: String = line.chars().take(12).collect();
        let Some(i) = rows.iter().position(|r| r.contains(&head)) else {
            continue;
        };
        seen += 1;
        let row = rows[i];
        if !row.contains(line) {
            assert!(
                row.contains(MORE_RIGHT),
                "{line:?} is cut without the marker:\n{text}"
            );
            // The rest of the line is not on the next row (no soft wrap).
            let tail: String = line
                .chars()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(
                !rows.get(i + 1).is_some_and(|r| r.contains(&tail)),
                "{line:?} wrapped onto the next row:\n{text}"
            );
        }
    }
    assert!(seen > 0, "no line of the block is on screen:\n{text}");
}

#[test]
fn blocks_are_drawn_unwrapped_at_60x20_and_120x35() {
    let app = app_with_blocks();
    for (w, h) in [(60u16, 20u16), (120, 35)] {
        let text = screen(&app, w, h);
        assert_eq!(text.lines().count(), usize::from(h));
        assert!(text.contains("Run these instead:"), "{text}");
        assert_unwrapped(&text, &blocks()[0]);
        insta::assert_snapshot!(format!("outcome_blocks_{w}x{h}"), text);
    }
}

#[test]
fn right_scrolls_the_block_and_marks_the_left_edge() {
    let mut app = app_with_blocks();
    screen(&app, 60, 20);
    app.type_keys("ll");
    assert_eq!(app.blocks.hscroll, 16);
    let text = screen(&app, 60, 20);
    assert!(
        text.lines()
            .any(|r| r.contains(MORE_LEFT) && r.contains("ip_local_reserved")),
        "{text}"
    );
    app.type_keys("h");
    assert_eq!(app.blocks.hscroll, 8);
}

#[test]
fn c_copies_the_selected_block_exactly_and_tab_selects_the_next() {
    let mut app = app_with_blocks();
    let effects = app.type_keys("c");
    assert_eq!(effects, vec![Effect::Copy(blocks()[0].file_text())]);
    assert!(
        matches!(app.modal(), Some(Modal::Outcome(_))),
        "the dialog stays"
    );
    app.type_keys("\t");
    assert_eq!(app.blocks.selected, 1);
    let effects = app.type_keys("c");
    assert_eq!(effects, vec![Effect::Copy(blocks()[1].file_text())]);
    let text = screen(&app, 120, 35);
    insta::assert_snapshot!("outcome_blocks_second_selected_120x35", text);
}

#[test]
fn w_then_enter_writes_to_the_offered_path_and_esc_cancels() {
    let mut app = app_with_blocks();
    assert!(app.type_keys("w").is_empty());
    let text = screen(&app, 120, 35);
    assert!(
        text.contains("write to: ./portscope-reservation.sh"),
        "{text}"
    );
    let effects = app.type_keys("\n");
    assert_eq!(
        effects,
        vec![Effect::WriteFile {
            path: PathBuf::from("./portscope-reservation.sh"),
            text: blocks()[0].file_text(),
        }]
    );
    assert!(matches!(app.modal(), Some(Modal::Outcome(_))));

    // esc leaves the prompt (nothing written), a second esc the dialog.
    assert!(app.type_keys("w").is_empty());
    assert!(app.type_keys("\x1b").is_empty());
    assert_eq!(app.note.as_deref(), Some("not written"));
    assert!(app.blocks.write.is_none());
    assert!(matches!(app.modal(), Some(Modal::Outcome(_))));
    app.type_keys("\x1b");
    assert!(app.modal().is_none());
}

#[test]
fn the_path_can_be_edited_before_writing() {
    let mut app = app_with_blocks();
    app.type_keys("\tw");
    // Backspace over "yml", then type "yaml".
    for _ in 0..3 {
        app.update(Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Backspace,
            crossterm::event::KeyModifiers::NONE,
        )));
    }
    let effects = app.type_keys("yaml\n");
    assert_eq!(
        effects,
        vec![Effect::WriteFile {
            path: PathBuf::from("./portscope-reservation.yaml"),
            text: blocks()[1].file_text(),
        }]
    );
}

#[test]
fn the_runtime_note_shows_in_the_dialog() {
    let mut app = app_with_blocks();
    app.update(Msg::Note("wrote ./x.yml".into()));
    assert!(screen(&app, 120, 35).contains("wrote ./x.yml"));
}

#[test]
fn osc52_sequence_is_exact() {
    use portscope::tui::copy::{copy, osc52};
    let text = blocks()[1].file_text();
    let seq = osc52(&text);
    assert!(seq.starts_with("\x1b]52;c;") && seq.ends_with('\x07'));
    // Decoded back with the system's base64, the payload is the text itself.
    let payload = &seq["\x1b]52;c;".len()..seq.len() - 1];
    let spawned = {
        // Every spawn of the suite is under the spawn lock (see there).
        let _g = crate::common::no_spawns();
        std::process::Command::new("base64")
            .arg("-d")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
    };
    let decoded = spawned.and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().unwrap().write_all(payload.as_bytes())?;
        c.wait_with_output()
    });
    match decoded {
        Ok(out) => assert_eq!(String::from_utf8(out.stdout).unwrap(), text),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!("base64: {e}"),
        Err(e) => println!("SKIPPED the decode check: base64 not runnable: {e}"),
    }
    let mut out = Vec::new();
    let note = copy(&mut out, &text);
    assert_eq!(out, seq.as_bytes());
    assert_eq!(
        note,
        format!(
            "copied {} bytes via OSC 52 (your terminal must allow it; in tmux: set -g set-clipboard on)",
            text.len()
        )
    );
}

#[test]
fn write_creates_a_new_file_and_refuses_existing_files_and_links() {
    use portscope::tui::copy::write_new;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("task.yml");
    let note = write_new(&path, "a: 1\n");
    assert_eq!(note, format!("wrote {}", path.display()));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 1\n");

    // An existing file is never overwritten.
    let note = write_new(&path, "b: 2\n");
    assert!(
        note.contains("exists already") && note.contains("never overwrites"),
        "{note}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 1\n");

    // A link at the target (to a file, or dangling) is refused, never followed.
    let victim = d.path().join("victim");
    std::fs::write(&victim, "secret").unwrap();
    let link = d.path().join("link.yml");
    symlink(&victim, &link).unwrap();
    let note = write_new(&link, "pwned\n");
    assert!(note.starts_with("not written"), "{note}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
    let dangling = d.path().join("dangling.yml");
    symlink(d.path().join("nowhere"), &dangling).unwrap();
    let note = write_new(&dangling, "pwned\n");
    assert!(note.starts_with("not written"), "{note}");
    assert!(!d.path().join("nowhere").exists());

    // No temporary file is left behind by the refusals.
    let mut names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["dangling.yml", "link.yml", "task.yml", "victim"]);

    // A relative path is relative to the current directory; a path naming no file is refused.
    assert!(write_new(Path::new(".."), "x").starts_with("not written"));
    assert!(write_new(&d.path().join("no/such/dir/x.yml"), "x").starts_with("not written"));
}

/// The why view for port 10080 of the recording, its diagnosis made as the collector would.
fn why_app() -> App {
    use portscope::ask::recorded;
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys("4e10080\n");
    let req = app.why.request.clone().unwrap();
    let d = recorded(&req, &snap);
    app.update(Msg::data(Arc::clone(&snap), Some(Arc::new(d))));
    app
}

#[test]
fn c_in_the_why_view_shows_the_commands_whole_and_copies_one() {
    let mut app = why_app();
    let d = app.feed.diagnosis.clone().unwrap();
    let expected: Vec<String> = d
        .plan
        .iter()
        .chain(d.remedies.iter())
        .map(|r| r.command.clone())
        .filter(|c| !c.is_empty())
        .collect();
    assert!(
        !expected.is_empty(),
        "the recording's diagnosis has commands"
    );
    assert!(app.type_keys("c").is_empty());
    let Some(Modal::Text { blocks, .. }) = app.modal() else {
        panic!("{:?}", app.modal());
    };
    assert!(!blocks.is_empty());
    // Each command once, and every one of them among the diagnosis's.
    for b in blocks {
        assert!(expected.contains(&b.text), "{b:?}");
    }
    let first = blocks[0].file_text();
    let text = screen(&app, 60, 20);
    assert_unwrapped(&text, &blocks[0].clone());
    insta::assert_snapshot!("why_commands_60x20", text);
    insta::assert_snapshot!("why_commands_120x35", screen(&app, 120, 35));
    assert_eq!(app.type_keys("c"), vec![Effect::Copy(first)]);
    app.type_keys("\x1b");
    assert!(app.modal().is_none());
}

#[test]
fn c_outside_the_why_view_says_where_it_works() {
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(recording(), None));
    assert!(app.type_keys("c").is_empty());
    assert!(app.modal().is_none());
    assert!(
        app.note.as_deref().unwrap().contains("the Why view only"),
        "{:?}",
        app.note
    );
}

#[test]
fn in_a_confirmation_c_copies_the_command_and_only_y_acts() {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), false);
    app.actions.is_root = true;
    app.update(Msg::data(snap, None));
    app.type_keys("jjjK");
    let Some(Modal::Confirm {
        blocks, described, ..
    }) = app.modal()
    else {
        panic!("{:?}", app.modal());
    };
    assert_eq!(described.title, "SIGTERM nginx");
    let stop = blocks[0].clone();
    assert_eq!(stop.text, "systemctl stop nginx.service");
    // The line quoting it is a warning because its producer says so.
    assert!(
        described
            .lines
            .iter()
            .any(|l| l.kind == portscope::model::text::Kind::Warning
                && l.text.contains("systemctl stop nginx.service"))
    );
    assert_eq!(
        app.type_keys("c"),
        vec![Effect::Copy("systemctl stop nginx.service\n".into())]
    );
    assert!(
        matches!(app.modal(), Some(Modal::Confirm { .. })),
        "c does not cancel"
    );
    // Any other key is still No.
    assert!(app.type_keys("x").is_empty());
    assert!(app.modal().is_none());
    assert_eq!(app.note.as_deref(), Some("cancelled: nothing was done"));
    app.type_keys("K");
    let effects = app.type_keys("y");
    assert!(
        matches!(effects.as_slice(), [Effect::Execute(_)]),
        "{effects:?}"
    );
}

#[test]
fn help_lists_the_dialog_keys_with_the_tmux_note() {
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(recording(), None));
    app.type_keys("?");
    screen(&app, 100, 50);
    // Scroll until the dialog keys are on screen (the last draw measured how far help goes).
    // Every page seen while scrolling to the end (the last draw measured how far that is).
    let mut text = screen(&app, 100, 50);
    for _ in 0..60 {
        app.type_keys("j");
        text.push_str(&screen(&app, 100, 50));
    }
    assert!(text.contains("Dialogs"), "{text}");
    assert!(text.contains("set -g set-clipboard on"), "{text}");
    assert!(text.contains("overwritten)"), "{text}");
    assert!(text.contains("the remedies' commands"), "{text}");
}

#[test]
fn commands_in_the_why_view_are_clipped_never_wrapped() {
    let app = why_app();
    let d = app.feed.diagnosis.clone().unwrap();
    let commands: Vec<String> = d
        .plan
        .iter()
        .chain(d.remedies.iter())
        .chain(d.causes.iter().flat_map(|c| c.remedies.iter()))
        .map(|r| r.command.clone())
        .filter(|c| !c.is_empty())
        .collect();
    let mut seen = 0;
    for (w, h) in [(60u16, 60u16), (80, 60), (120, 60)] {
        let text = screen(&app, w, h);
        for row in text.lines().filter(|r| r.contains("$ ")) {
            let shown = row.split("$ ").nth(1).unwrap().trim_end_matches([' ', '│']);
            seen += 1;
            let whole = commands.iter().any(|c| c == shown);
            let clipped = shown.ends_with(MORE_RIGHT)
                && commands
                    .iter()
                    .any(|c| c.starts_with(shown.trim_end_matches(MORE_RIGHT)));
            assert!(
                whole || clipped,
                "{w}x{h}: {row:?} is neither a whole command nor clipped"
            );
        }
    }
    assert!(seen >= 3, "the why view shows its commands");
}
