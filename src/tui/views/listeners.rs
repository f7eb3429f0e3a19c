//! Listeners: who listens where, and which ports are reserved, at risk or privileged.

use super::columns::{self, Col};
use super::{first_owner, owner_name, window};
use crate::analyze::portmap::PortClass;
use crate::model::{Snapshot, Socket};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(snap) = app.snapshot() else {
        f.render_widget(Paragraph::new("waiting for the first snapshot…"), area);
        return;
    };
    let title = format!(
        " Listeners ({}{}) · sorted by {} ",
        app.listeners.rows.len(),
        if app.listeners.filter.value().is_empty() {
            ""
        } else {
            ", filtered"
        },
        app.listeners.sort.label()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()));
    if app.listeners.rows.is_empty() {
        let msg = if app.listeners.filter.value().is_empty() {
            "no listening sockets in this namespace"
        } else {
            "no listener matches the filter (esc clears it)"
        };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    }
    let (from, to) = window(
        &app.listeners.nav,
        &app.measured.listeners_page,
        app.listeners.rows.len(),
        area.height,
    );
    let multi = !snap.namespaces.is_empty();
    let shown: Vec<Cells> = app.listeners.rows[from..to]
        .iter()
        .map(|&i| cells_of(snap, &snap.sockets[i], multi, theme))
        .collect();
    let addr_min = shown
        .iter()
        .map(|l| columns::min_width(&l.addr))
        .max()
        .unwrap_or(0);
    let addr_want = shown
        .iter()
        .map(|l| columns::width(&l.addr))
        .max()
        .unwrap_or(0);
    // Columns as wide as what is on screen: a column of blanks (no flags, no units) takes no
    // room, so names keep theirs. Names read whole up to the kernel's 15 (and "+1").
    let mut cols = vec![
        // "docker: payments-api-7f9c", "k8s: kube-system/coredns-…": the start names it.
        Col::sized("netns", shown.iter().map(|l| l.netns.as_str()), 7)
            .readable(20)
            .squeeze(10),
        Col::new("proto", 5, 5, 6),
        Col::new("address:port", addr_min.max(12), addr_want.max(12), 10),
        Col::sized("process", shown.iter().map(|l| l.process.as_str()), 9)
            .readable(18)
            .squeeze(8),
        Col::sized("pid", shown.iter().map(|l| l.pid.as_str()), 5),
        Col::sized("user", shown.iter().map(|l| l.user.as_str()), 2),
        Col::sized("flags", shown.iter().map(|l| flags_text(&l.badges)), 4),
        // Accept queue against the effective backlog ("5/4"): what tells a full listener.
        Col::sized("queue", shown.iter().map(|l| l.queue.content.as_ref()), 3),
        Col::sized("unit/container", shown.iter().map(|l| l.place.as_str()), 3)
            .readable(14)
            .squeeze(8)
            .fill(),
    ];
    // An idle queue column ("0/512" on every row) says little: it gives its room to names when
    // the screen is too narrow for everything, and comes back as soon as a queue fills.
    let waiting = app.listeners.queue_waiting;
    let wanted: u32 = cols
        .iter()
        .filter(|c| c.want > 0)
        .map(|c| u32::from(c.want) + 1)
        .sum();
    if !waiting && wanted > u32::from(area.width.saturating_sub(2)) {
        cols[QUEUE].hide();
    }
    if multi {
        // Room for the namespace: user and flags (the focus namespace's sysctls) go.
        cols[USER].hide();
        cols[FLAGS].hide();
    }
    let fitted = columns::fit(&cols, area.width.saturating_sub(2));
    let (widths, header, kept) = columns::layout_of(&cols, &fitted);
    let at = |c: usize| fitted[c].unwrap_or(0);
    let rows: Vec<Row> = shown
        .into_iter()
        .map(|l| {
            let cells = vec![
                Cell::from(columns::clip(&l.netns, at(NETNS))),
                Cell::from(l.proto),
                Cell::from(columns::shorten(&l.addr, at(ADDR))),
                Cell::from(columns::clip(&l.process, at(PROCESS))),
                Cell::from(l.pid),
                Cell::from(columns::clip(&l.user, at(USER))),
                Cell::from(ratatui::text::Line::from(l.badges)),
                Cell::from(l.queue),
                Cell::from(columns::clip(&l.place, at(PLACE))),
            ];
            Row::new(columns::pick(cells, &kept))
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header()))
        .row_highlight_style(theme.selected())
        .block(block);
    let mut state = TableState::default().with_selected(Some(app.listeners.nav.selected - from));
    f.render_stateful_widget(table, area, &mut state);
}

/// The columns, in order.
const NETNS: usize = 0;
const ADDR: usize = 2;
const PROCESS: usize = 3;
const USER: usize = 5;
const FLAGS: usize = 6;
const QUEUE: usize = 7;
const PLACE: usize = 8;

/// One listener's cells, as text to measure before the columns are sized.
struct Cells {
    netns: String,
    proto: &'static str,
    addr: String,
    process: String,
    pid: String,
    user: String,
    badges: Vec<Span<'static>>,
    queue: Span<'static>,
    place: String,
}

/// "FULL reserved priv 4+6" as it reads, for sizing the flags column.
fn flags_text(badges: &[Span]) -> String {
    let text: String = badges.iter().map(|b| b.content.as_ref()).collect();
    text.trim_end().to_string()
}

fn cells_of(snap: &Snapshot, s: &Socket, multi: bool, theme: &Theme) -> Cells {
    let sys = &snap.sysctl;
    let o = first_owner(s);
    let mut badges: Vec<Span> = Vec::new();
    let queue = crate::analyze::listener_health::QueueLook {
        queued: s.rx_queue,
        backlog: s.tx_queue,
    };
    let tcp = s.proto == crate::model::Proto::Tcp;
    // First: the one flag that says clients are being dropped right now.
    if tcp && queue.full() {
        badges.push(Span::styled(
            "FULL ",
            theme.class_style(PortClass::Conflict),
        ));
    }
    // The sysctls are the focus namespace's: say nothing about another's ports.
    let here = !multi || s.netns == snap.netns.inode;
    if !here {
    } else if sys.ip_local_reserved_ports.contains(s.local_port) {
        badges.push(Span::styled(
            "reserved ",
            theme.class_style(PortClass::Reserved),
        ));
    } else if sys.at_risk(s.local_port) {
        badges.push(Span::styled(
            "AT RISK ",
            theme.class_style(PortClass::Conflict),
        ));
    }
    if sys.privileged(s.local_port) {
        badges.push(Span::styled("priv ", theme.dim()));
    }
    if s.is_dual_stack() {
        badges.push(Span::styled("4+6", theme.dim()));
    }
    let queue = match (tcp, queue.full()) {
        (false, _) => Span::raw(""),
        (true, false) => Span::raw(format!("{}/{}", queue.queued, queue.backlog)),
        (true, true) => Span::styled(
            format!("{}/{}", queue.queued, queue.backlog),
            theme.class_style(PortClass::Conflict),
        ),
    };
    Cells {
        netns: if multi {
            crate::tui::netns_pick::label_of(snap, s)
        } else {
            String::new()
        },
        proto: s.proto.as_str(),
        addr: s.local(),
        process: owner_name(s),
        pid: o.map_or(String::new(), |o| o.pid.to_string()),
        user: match o {
            Some(o) => o.user.to_string(),
            None if s.owner_hidden => crate::collect::users::user_name(s.uid).to_string(),
            None => String::new(),
        },
        badges,
        queue,
        place: match &s.published {
            Some(p) => p.describe(),
            None => o.and_then(crate::workload::place).unwrap_or_default(),
        },
    }
}
