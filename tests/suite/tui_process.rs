//! The process-context lines (tui/views/process.rs) at 60 and 120 columns, compared with snapshot
//! files: a hand-started java near its fd limit with a full accept queue, and a container's
//! server with a long command line.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::escape::Foreign;
use portscope::model::process_context::{
    Ancestor, FdUse, ListenQueue, ListenStats, ProcessContext, ProcessKind, ProcessStart,
    SocketCount, Supervisor,
};
use portscope::tui::buffer_text;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::widgets::Paragraph;

fn start(age: i64) -> ProcessStart {
    let at = jiff::Timestamp::from_second(1_780_000_000).unwrap();
    ProcessStart {
        ticks: 57_000,
        after_boot_secs: 570,
        at: Some(at),
        local: Some(at.to_zoned(jiff::tz::TimeZone::UTC).datetime()),
        age_secs: Some(age),
    }
}

fn parent(pid: u32, comm: &str, kind: ProcessKind) -> Ancestor {
    Ancestor {
        pid,
        comm: Foreign::from(comm),
        kind,
    }
}

fn java() -> ProcessContext {
    let parents = vec![
        parent(4100, "bash", ProcessKind::Shell),
        parent(4090, "sshd", ProcessKind::Process),
        parent(900, "sshd", ProcessKind::Process),
        parent(1, "systemd", ProcessKind::Init),
    ];
    ProcessContext {
        pid: 4123,
        comm: Foreign::from("java"),
        cmdline: Foreign::from("java -Xmx2g -jar /srv/api/api.jar --server.port=8080"),
        uid: 1001,
        user: Foreign::from("api"),
        start: start(2 * 3600 + 14 * 60),
        supervisor: Supervisor::choose(None, Some("session-4.scope"), None, &parents),
        parents,
        fds: Some(FdUse {
            open: 830,
            soft: Some(1024),
            hard: Some(4096),
        }),
        sockets: SocketCount {
            now: 812,
            per_min: Some(120),
        },
        listeners: vec![ListenQueue {
            addr: "0.0.0.0".parse().unwrap(),
            port: 8080,
            queued: 129,
            backlog: 128,
        }],
        listen_stats: Some(ListenStats {
            overflows: 17,
            drops: 17,
        }),
        state: None,
        wchan: None,
    }
}

fn container_server() -> ProcessContext {
    let parents = vec![parent(
        880,
        "containerd-shim-runc-v2",
        ProcessKind::RuntimeShim,
    )];
    ProcessContext {
        pid: 912,
        comm: Foreign::from("node"),
        cmdline: Foreign::from(
            "node /app/node_modules/.bin/next start --hostname 0.0.0.0 --port 3000 \
             --keepAliveTimeout 65000 --experimental-https-key=/run/secrets/tls/key.pem\x1b[31m",
        ),
        uid: 0,
        user: Foreign::from("root"),
        start: start(3 * 86_400 + 7200),
        supervisor: Supervisor::choose(Some("docker web"), None, None, &parents),
        parents,
        fds: Some(FdUse {
            open: 41,
            soft: None,
            hard: None,
        }),
        sockets: SocketCount {
            now: 3,
            per_min: None,
        },
        listeners: vec![ListenQueue {
            addr: "::".parse().unwrap(),
            port: 3000,
            queued: 0,
            backlog: 511,
        }],
        listen_stats: Some(ListenStats {
            overflows: 0,
            drops: 0,
        }),
        state: None,
        wchan: None,
    }
}

fn render(ctx: &ProcessContext, width: u16) -> String {
    let lines = portscope::tui::views::process::lines(ctx, width);
    for l in &lines {
        assert!(
            l.width() <= usize::from(width),
            "line wider than {width}: {l:?}"
        );
    }
    let height = u16::try_from(lines.len()).unwrap();
    let mut term = Terminal::new(TestBackend::new(width, height)).unwrap();
    term.draw(|f| f.render_widget(Paragraph::new(lines), f.area()))
        .unwrap();
    buffer_text(term.backend().buffer())
}

#[test]
fn java_near_its_fd_limit_with_a_full_queue() {
    for w in [60u16, 120] {
        let text = render(&java(), w);
        assert!(text.contains("830/1024 (81%)"), "{text}");
        assert!(text.contains("warning"), "{text}");
        assert!(text.contains("+120/min"), "{text}");
        assert!(text.contains("ListenOverflows 17"), "{text}");
        assert!(text.contains("shell bash (4100)"), "{text}");
        insta::assert_snapshot!(format!("process_java_{w}"), text);
    }
}

#[test]
fn container_server_keeps_its_whole_command_line_escaped() {
    for w in [60u16, 120] {
        let text = render(&container_server(), w);
        assert!(
            !text.contains('\x1b'),
            "escape sequences never reach the screen"
        );
        assert!(text.contains("container docker web"), "{text}");
        assert!(text.contains("41 (no limit)"), "{text}");
        insta::assert_snapshot!(format!("process_container_{w}"), text);
    }
}

#[test]
fn same_named_processes_differ_on_screen() {
    let a = java();
    let mut b = java();
    b.pid = 4200;
    b.cmdline = Foreign::from("java -Xmx2g -jar /srv/billing/billing.jar --server.port=8081");
    for w in [60u16, 120] {
        let (ta, tb) = (render(&a, w), render(&b, w));
        let cmd = |t: &str| {
            t.lines()
                .skip_while(|l| !l.trim_start().starts_with("command"))
                .take(2)
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_ne!(cmd(&ta), cmd(&tb));
        assert!(cmd(&tb).contains("billing"), "{}", cmd(&tb));
    }
}
