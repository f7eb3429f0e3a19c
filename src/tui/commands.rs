//! Every TUI command, defined once: its config name, default keys, help text and the views where
//! it works. The key map, the help screen, the footer hints, the config's `[keys]` names and
//! what a key says where it does nothing (`app::habits`) are all derived from this table, so a
//! command cannot be bound without help or named without a binding.

use super::view::View;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    Quit,
    Help,
    NextView,
    PrevView,
    ViewListeners,
    ViewConnections,
    ViewPortMap,
    ViewWhy,
    ViewFailures,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    Filter,
    Freeze,
    Earlier,
    Later,
    Refresh,
    Open,
    Back,
    Sort,
    SortReverse,
    Group,
    ZoomIn,
    ZoomOut,
    Goto,
    EditPort,
    Kill,
    CloseConn,
    Reserve,
    ReserveAtRisk,
    Undo,
    FixPlan,
    Netns,
    NextMatch,
    PrevMatch,
    CopyCommands,
    Report,
}

/// One command's definition.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    pub cmd: Command,
    /// The name in the config's `[keys]` table.
    pub name: &'static str,
    /// Default keys; the first is the one hints show.
    pub keys: &'static [&'static str],
    pub help: &'static str,
    pub views: Views,
}

/// Where a command works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Views {
    /// In every view (what it does may depend on the view).
    All,
    /// In these views only; elsewhere its key says "{key}: {does} in {views} only".
    Only(&'static [View], &'static str),
}

impl Views {
    /// Whether the command works in `view`.
    pub fn has(self, view: View) -> bool {
        match self {
            Views::All => true,
            Views::Only(views, _) => views.contains(&view),
        }
    }
}

const fn def(
    cmd: Command,
    name: &'static str,
    keys: &'static [&'static str],
    help: &'static str,
) -> Def {
    Def {
        cmd,
        name,
        keys,
        help,
        views: Views::All,
    }
}

impl Def {
    /// Works in `views` only, where it `does` what it does ("sorts", "works").
    const fn only(mut self, views: &'static [View], does: &'static str) -> Def {
        self.views = Views::Only(views, does);
        self
    }
}

const TABLES: &[View] = &[View::Listeners, View::Connections];
const CONNECTIONS: &[View] = &[View::Connections];
const MAP: &[View] = &[View::PortMap];
const WHY: &[View] = &[View::Why];
/// The views with a socket to act on: a table's row, or the why view's holder.
const SOCKETS: &[View] = &[View::Listeners, View::Connections, View::Why];
/// The map's cursor, and a grouped table's folds.
const ARROWS: &[View] = &[View::PortMap, View::Connections];

/// In the order the help screen lists them.
#[rustfmt::skip]
pub const TABLE: [Def; 42] = [
    def(Command::Help, "help", &["?", "F1"], "show this help"),
    def(Command::Quit, "quit", &["q", "ctrl-c"], "quit (q closes an open overlay first)"),
    def(Command::NextView, "next_view", &["tab"], "next view"),
    def(Command::PrevView, "prev_view", &["shift-tab"], "previous view"),
    def(Command::ViewListeners, "view_listeners", &["1"], "listeners view"),
    def(Command::ViewConnections, "view_connections", &["2"], "connections view"),
    def(Command::ViewPortMap, "view_port_map", &["3"], "port map view"),
    def(Command::ViewWhy, "view_why", &["4"], "why view: why can't a port be bound"),
    def(Command::ViewFailures, "view_failures", &["5"], "failures view: refused bind() and connect() calls"),
    def(Command::Up, "up", &["up", "k"], "move up"),
    def(Command::Down, "down", &["down", "j"], "move down"),
    def(Command::PageUp, "page_up", &["pgup", "ctrl-b"], "page up"),
    def(Command::PageDown, "page_down", &["pgdown", "ctrl-f"], "page down"),
    def(Command::Top, "top", &["home", "g"], "first row / lowest port / top of help"),
    def(Command::Bottom, "bottom", &["end", "G"], "last row / highest port / end of help"),
    def(Command::Left, "left", &["left", "h"], "move left (port map) / fold a group").only(ARROWS, "works"),
    def(Command::Right, "right", &["right", "l"], "move right (port map) / unfold a group").only(ARROWS, "works"),
    def(Command::Filter, "filter", &["/"], "filter this table by text or field:value (see Filter)").only(TABLES, "filters"),
    def(Command::NextMatch, "next_match", &["n"], "next row matching the filter").only(TABLES, "walks filter matches"),
    def(Command::PrevMatch, "prev_match", &["N"], "previous row matching the filter").only(TABLES, "walks filter matches"),
    def(Command::Freeze, "freeze", &["space"], "freeze / unfreeze the view (keys still work)"),
    def(Command::Earlier, "earlier", &["["], "step back in time, to the previous change"),
    def(Command::Later, "later", &["]"], "step forward in time, back to the present"),
    def(Command::Refresh, "refresh", &["r"], "refresh now"),
    def(Command::Open, "open", &["enter"], "details of the selected row / (un)fold a group / zoom in"),
    def(Command::Back, "back", &["esc"], "close the topmost overlay / clear filter"),
    def(Command::Sort, "sort", &["s"], "sort by the next column (listeners: port, process, user)").only(TABLES, "sorts"),
    def(Command::SortReverse, "sort_reverse", &["S"], "reverse the sort (connections)").only(CONNECTIONS, "works"),
    def(Command::Group, "group", &["f"], "connections: fold into groups by process, host, endpoint, state+port, or none").only(CONNECTIONS, "works"),
    def(Command::ZoomIn, "zoom_in", &["+", "="], "zoom in (port map)").only(MAP, "works"),
    def(Command::ZoomOut, "zoom_out", &["-"], "zoom out (port map)").only(MAP, "works"),
    def(Command::Goto, "goto", &[":"], "go to a port (port map)").only(MAP, "works"),
    def(Command::EditPort, "edit_port", &["e"], "type the port to diagnose (why view)").only(WHY, "works"),
    def(Command::Kill, "kill", &["K"], "kill the selected socket's process (confirmed)").only(SOCKETS, "works"),
    def(Command::CloseConn, "close_connection", &["D"], "close the selected connection (confirmed)").only(SOCKETS, "works"),
    def(Command::Reserve, "reserve", &["R"], "stage a port reservation for the selection"),
    def(Command::ReserveAtRisk, "reserve_at_risk", &["A"], "stage a reservation of every at-risk listener"),
    def(Command::Undo, "undo", &["U"], "undo the last reservation apply (confirmed)"),
    def(Command::FixPlan, "fix_plan", &["F"], "why view: carry out the plan freeing the port (confirmed once)").only(WHY, "works"),
    def(Command::Netns, "netns", &["w"], "which network namespace: start one, all, each in turn"),
    def(Command::CopyCommands, "commands", &["c"], "why view: the remedies' commands, whole, to copy or write to a file").only(WHY, "works"),
    def(Command::Report, "report", &["P"], "HTML report of this port"),
];

impl Command {
    pub fn name(self) -> &'static str {
        TABLE.iter().find(|d| d.cmd == self).map_or("?", |d| d.name)
    }

    pub fn from_name(name: &str) -> Option<Command> {
        TABLE.iter().find(|d| d.name == name).map(|d| d.cmd)
    }

    /// The views where the command works.
    pub fn views(self) -> Views {
        TABLE
            .iter()
            .find(|d| d.cmd == self)
            .map_or(Views::All, |d| d.views)
    }
}

/// "Listeners and Connections", "the Port map", "Listeners, Connections and the Why view".
pub fn view_words(views: &[View]) -> String {
    let name = |v: &View| match v {
        View::PortMap => "the Port map".to_string(),
        View::Why => "the Why view".to_string(),
        v if views.len() == 1 => format!("the {} view", v.title()),
        v => v.title().to_string(),
    };
    let names: Vec<String> = views.iter().map(name).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_a_command_works_reads_as_a_sentence() {
        assert_eq!(view_words(TABLES), "Listeners and Connections");
        assert_eq!(view_words(CONNECTIONS), "the Connections view");
        assert_eq!(view_words(MAP), "the Port map");
        assert_eq!(
            view_words(SOCKETS),
            "Listeners, Connections and the Why view"
        );
        assert!(Command::Sort.views().has(View::Listeners));
        assert!(!Command::Sort.views().has(View::PortMap));
        assert!(Command::Report.views().has(View::Failures));
    }
}
