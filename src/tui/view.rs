//! The TUI's views (its tabs), as a value: the app switches between them and the command table
//! says which of them each command works in, so it sits below both.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Listeners,
    Connections,
    PortMap,
    Why,
    /// Refused bind() and connect() calls (the flight recorder).
    Failures,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Listeners,
        View::Connections,
        View::PortMap,
        View::Why,
        View::Failures,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Listeners => "Listeners",
            View::Connections => "Connections",
            View::PortMap => "Port map",
            View::Why => "Why",
            View::Failures => "Failures",
        }
    }

    /// The tab's word where the full titles do not fit.
    pub fn short(self) -> &'static str {
        match self {
            View::Listeners => "List",
            View::Connections => "Conns",
            View::PortMap => "Map",
            View::Why => "Why",
            View::Failures => "Fails",
        }
    }

    pub(crate) fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}
