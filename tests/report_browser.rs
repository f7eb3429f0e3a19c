//! `portscope report` opened in a real headless browser (Debian's chromium) inside a private
//! network namespace (no network at all): the page loads with no console message (its Content
//! Security Policy of `default-src 'none'` turns any load it would attempt into one, so "no
//! console message" is also "no request left the file"), and the DOM shows the holder, the
//! timeline's records (refused calls included) and hostile names escaped. Chromium missing:
//! SKIPPED (a failure under CI=true).
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)]

mod common;

use common::veth::tools_or_skip;
use common::*;
use portscope::history::log::crc32;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A process name that is markup: `<script>x&'"` (a file name cannot hold '/').
const HOSTILE: &str = "<script>x&'\"";

/// The page as chromium's DOM has it after load, and chromium's console lines.
fn open_in_chromium(page: &Path, profile: &Path) -> (String, Vec<String>) {
    let mut child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--dump-dom")
            .arg(format!("file://{}", page.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn chromium")
    };
    // Read both pipes on threads, then wait for the exit with a deadline.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let end = Instant::now() + PATIENCE;
    let exited = wait_until(PATIENCE, || child.try_wait().ok().flatten().is_some());
    if !exited || Instant::now() > end {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium did not finish loading the report within {PATIENCE:?}");
    }
    let dom = o.join().unwrap();
    let console = e
        .join()
        .unwrap()
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    (dom, console)
}

fn line(json: &serde_json::Value) -> String {
    let j = json.to_string();
    format!("{:08x} {j}\n", crc32(j.as_bytes()))
}

/// A history log: the holder appears, a refused bind, the holder goes, and one record too
/// old for `--since 1h`.
fn history(path: &Path, port: u16) {
    let now = jiff::Timestamp::now();
    let ago = |m: i64| (now - jiff::SignedDuration::from_mins(m)).to_string();
    let owner = serde_json::json!([{ "pid": 4242, "comm": HOSTILE, "cmdline": HOSTILE, "uid": 0,
        "user": "root", "start_time": 1, "unit": null }]);
    let change = |m, kind: &str| {
        serde_json::json!({ "at": ago(m), "kind": kind, "proto": "tcp", "family": "ipv4",
            "local_addr": "0.0.0.0", "local_port": port, "remote_addr": "0.0.0.0",
            "remote_port": 0, "inode": 77, "state": "LISTEN", "owners": owner })
    };
    let text = [
        line(&serde_json::json!({ "portscope_history": 1, "started": ago(3000), "writer": "tui" })),
        line(&change(2900, "appeared")),
        line(&change(30, "present")),
        line(
            &serde_json::json!({ "at": ago(20), "kind": "refused", "port": port,
            "comm": "api-v2", "pid": 5151, "error": "EADDRINUSE" }),
        ),
        line(&change(10, "gone")),
    ]
    .concat();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_report_loads_offline_and_shows_holder_timeline_and_escaped_names() {
    if !private_netns("report_browser") || !tools_or_skip("report_browser", &["chromium"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let l = tcp_listen("0.0.0.0:7020");
    let prog = dir.path().join(HOSTILE);
    copy_executable("/bin/sleep", &prog);
    let _holder = spawn_holding(Command::new(&prog).arg("600").stdout(Stdio::null()), &[&l]);
    drop(l);
    let log = dir.path().join("history.log");
    history(&log, 7020);
    let page = dir.path().join("report.html");
    let ok = wait_until(PATIENCE, || {
        run(portscope().args(["snapshot", "--json"]))
            .1
            .contains("<script>x&")
    });
    assert!(ok, "the holder never showed in a snapshot");
    let (code, out, err) = run(portscope()
        .args(["report", "--port", "7020", "--history"])
        .arg(&log)
        .args(["--since", "1h", "--out"])
        .arg(&page));
    assert_eq!(code, 0, "{out} {err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script>x"), "an unescaped name in the file");
    for banned in ["src=", "href=", "url(", "@import", "http://", "https://"] {
        assert!(!html.contains(banned), "{banned} in the report");
    }

    let profile = tempfile::tempdir().unwrap();
    let (dom, console) = open_in_chromium(&page, profile.path());
    assert!(console.is_empty(), "console messages: {console:#?}");
    // The holder, escaped.
    assert!(
        dom.contains(r#"<td class="holder">&lt;script&gt;x&amp;'" (pid "#),
        "{dom}"
    );
    assert!(!dom.contains("<script>x"), "{dom}");
    // The timeline: the records within --since, with their records on hover; the old one not.
    let kinds: Vec<&str> = dom
        .split(r#"<li class="record-row" data-kind=""#)
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(kinds, ["present", "refused", "gone"], "{dom}");
    assert!(
        dom.contains(r#"<circle class="record kind-refused" data-kind="refused""#),
        "{dom}"
    );
    assert!(dom.contains("refused EADDRINUSE api-v2"), "{dom}");
    // Hovering the refused mark shows its record as written.
    let hover = dom
        .split(r#"data-kind="refused""#)
        .nth(1)
        .and_then(|s| s.split("<title>").nth(1))
        .and_then(|s| s.split("</title>").next())
        .unwrap_or_default();
    assert!(
        hover.contains("refused EADDRINUSE api-v2") && hover.contains(r#""error":"EADDRINUSE""#),
        "{hover}"
    );
    // The raw data parses as the JSON document tools read.
    let raw = dom
        .split(r#"<script type="application/json" id="portscope-data">"#)
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(raw).unwrap();
    assert_eq!(v["ports"][0]["port"], 7020);
    assert_eq!(v["listeners"][0]["owners"][0]["comm"], HOSTILE);

    // The detector works: the same page with one remote image gets a console message.
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        html.replacen("<h1>", r#"<img src="http://192.0.2.1/x.png"><h1>"#, 1),
    )
    .unwrap();
    let (_, console) = open_in_chromium(&bad, profile.path());
    assert!(
        !console.is_empty(),
        "a blocked load left no console message"
    );
}

#[test]
fn json_rotation_and_bad_input() {
    if !private_netns("report_cli") {
        return;
    }
    let _l = tcp_listen("0.0.0.0:7021");
    let (code, out, _) = run(portscope().args([
        "report",
        "--port",
        "7021",
        "--format",
        "json",
        "--no-firewall",
    ]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ports"][0]["why"]["verdict"], "in_use", "{v}");
    assert!(
        v["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["port"] == 7021)
    );
    // Bad input: one line, exit 2.
    for args in [
        vec!["report", "--port", "7021"],
        vec!["report", "--format", "json", "--since", "1h"],
        vec![
            "report",
            "--format",
            "json",
            "--history",
            "/nonexistent/h.log",
        ],
        vec!["report", "--format", "json", "--port", "1-1000"],
    ] {
        let (code, _, err) = run(portscope().args(&args));
        assert_eq!((code, err.lines().count()), (2, 1), "{args:?}: {err}");
    }
    // --keep: stamped names, the oldest beyond N removed.
    let dir = tempfile::tempdir().unwrap();
    for old in [
        "r-20200101T000000Z.html",
        "r-20200102T000000Z.html",
        "r-20200103T000000Z.html",
        "other.html",
    ] {
        std::fs::write(dir.path().join(old), "x").unwrap();
    }
    let (code, out, err) = run(portscope()
        .args(["report", "--no-firewall", "--keep", "2", "--out"])
        .arg(dir.path().join("r.html")));
    assert_eq!(code, 0, "{out}{err}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], "other.html");
    assert_eq!(names[1], "r-20200103T000000Z.html");
    assert!(
        names[2].starts_with("r-20") && names[2] > names[1],
        "{names:?}"
    );
    let _ = Duration::ZERO;
}

#[test]
fn the_report_timer_unit_runs_and_rotates() {
    if !private_netns("report_unit") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/systemd");
    let unit = std::fs::read_to_string(root.join("portscope-report.service")).unwrap();
    let timer = std::fs::read_to_string(root.join("portscope-report.timer")).unwrap();
    assert!(timer.contains("OnCalendar=hourly"), "{timer}");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    // The unit's own command line, with this build and scratch paths in place of the host's.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let words: Vec<String> = exec
        .replace("/etc/portscope/config.toml", config.to_str().unwrap())
        .replace("/var/lib/portscope/reports", reports.to_str().unwrap())
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(words[0], "/usr/local/bin/portscope");
    for _ in 0..2 {
        let (code, out, err) = run(portscope().args(&words[1..]).arg("--no-firewall"));
        assert_eq!(code, 0, "{exec}: {out}{err}");
    }
    let names: Vec<String> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.is_empty()
            && names
                .iter()
                .all(|n| n.starts_with("report-20") && n.ends_with("Z.html")),
        "{names:?}"
    );
}
