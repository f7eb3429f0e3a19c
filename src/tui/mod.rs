//! The terminal UI: `portscope` with no subcommand.

pub mod app;
pub mod cadence;
pub mod channel;
pub mod clock;
pub mod collector;
pub mod commands;
pub mod copy;
pub mod draw;
pub mod failures_feed;
pub mod key;
pub mod keymap;
pub mod layout;
pub mod marks;
pub mod netns_pick;
mod replay;
pub mod runtime;
pub mod settings;
pub mod settings_error;
pub mod signals;
pub mod terminal;
pub mod theme;
mod tick_read;
pub mod travel;
pub mod view;
pub mod views;

use crate::collect::CollectOptions;
use crate::collect::NetnsTarget;
use std::path::PathBuf;

pub use replay::{ReplayError, load_replay};
use std::sync::Arc;
use std::time::Duration;

/// A count as terminal rows or cells: past `u16::MAX` it saturates (no screen is that large,
/// and a truncated count would wrap to a small one).
pub(crate) fn u16_sat(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

pub struct TuiOptions {
    pub netns: NetnsTarget,
    pub interval: Option<Duration>,
    pub replay: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub no_color: bool,
    /// Connections read by dumps only, never kept from kernel events.
    pub no_events: bool,
    /// Where staged reservations are persisted (default /etc/sysctl.d).
    pub sysctl_dir: Option<PathBuf>,
    /// Append every refresh's changes to this history log.
    pub record: Option<PathBuf>,
}

/// What can go wrong before the UI starts: all of it is the user's input (exit status 2)
/// except a missing or failing terminal.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Settings(#[from] settings_error::SettingsError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("--record records the live system; it cannot be combined with --replay")]
    RecordReplay,
    #[error("cannot record to {}: {error}", .path.display())]
    Record {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "the TUI needs a terminal; for text output use `portscope snapshot` or `portscope why PORT`"
    )]
    NoTerminal,
    #[error("terminal error: {0}")]
    Terminal(std::io::Error),
}

impl StartError {
    /// Whether the user's input (a flag, a file named) was wrong, rather than the terminal.
    pub fn is_bad_input(&self) -> bool {
        match self {
            StartError::NoTerminal | StartError::Terminal(_) => false,
            StartError::Record { error, .. } => !crate::history::log::is_system_failure(error),
            _ => true,
        }
    }
}

/// Whether the terminal gets the plain UI (no colours): asked for with `--no-color` or
/// `NO_COLOR` (no-color.org), or a terminal that has none: `TERM=dumb`, or no TERM at all.
pub fn plain_ui(
    no_color_flag: bool,
    no_color_env: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    no_color_flag
        || no_color_env.is_some_and(|v| !v.is_empty())
        || term.is_none_or(|t| t.is_empty() || t == "dumb")
}

pub fn run(opts: TuiOptions) -> Result<runtime::Ending, StartError> {
    use std::io::IsTerminal;
    let no_color = plain_ui(
        opts.no_color,
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
    );
    let config = crate::config::load(opts.config.as_deref())?;
    let settings = settings::settings(&config, no_color)?;
    crate::action::set_protect(config.protect.clone());
    let interval = opts
        .interval
        .or(config.interval_ms.map(Duration::from_millis))
        .unwrap_or(Duration::from_secs(1));
    let source = match &opts.replay {
        Some(path) => channel::Source::Replay(Arc::new(load_replay(path)?)),
        None => channel::Source::Live(CollectOptions {
            netns: opts.netns.clone(),
            ..CollectOptions::default()
        }),
    };
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(StartError::NoTerminal);
    }
    let mut app = app::App::new(settings.keymap, opts.replay.is_some());
    app.travel = travel::TimeTravel::new(config.history);
    // A recording replays with its whole timeline: `[` steps back from its end.
    if let Some(path) = &opts.replay
        && let Ok(bytes) = crate::safefs::read_file(
            path,
            crate::safefs::Links::Follow,
            crate::history::log::MAX_LOG,
        )
        && crate::history::log::looks_like_log(&bytes)
        && let Ok(loaded) = crate::history::log::parse(&bytes)
    {
        app.travel = travel::TimeTravel::new(crate::history::Bounds {
            max_age: Duration::MAX,
            max_bytes: usize::MAX,
        });
        app.travel.record(&loaded.changes);
    }
    app.actions.netns = opts.netns.clone();
    app.failures.log.clone_from(&config.recorder_log);
    if let Some(dir) = opts.sysctl_dir.or(config.sysctl_dir) {
        app.actions.sysctl_dir = dir;
    }
    let recorder = match (&opts.record, &opts.replay) {
        (Some(_), Some(_)) => {
            return Err(StartError::RecordReplay);
        }
        (Some(path), None) => Some(crate::history::SnapshotRecorder::open(path).map_err(
            |error| StartError::Record {
                path: path.clone(),
                error,
            },
        )?),
        _ => None,
    };
    let cadence = cadence::Cadence {
        events: !opts.no_events,
        ..cadence::Cadence::new(interval)
    };
    runtime::run(app, &settings.theme, source, cadence, recorder).map_err(StartError::Terminal)
}

/// Renders the UI into an off-screen buffer: for rendering tests and screenshots.
pub fn render_offscreen(
    app: &app::App,
    theme: &theme::Theme,
    clock: &draw::Clock,
    width: u16,
    height: u16,
) -> ratatui::buffer::Buffer {
    let backend = ratatui::backend::TestBackend::new(width, height);
    match ratatui::Terminal::new(backend) {
        Ok(mut term) => {
            let _ = term.draw(|f| draw::draw(f, app, theme, clock));
            term.backend().buffer().clone()
        }
        Err(_) => ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, width, height)),
    }
}

/// Draws off-screen as the runtime would, and when that draw measured the map anew (its first
/// frame at this size), lets `update` look up again what is under the map's cursor: what the
/// runtime does after each draw. For tests and screenshots; the next render shows the result.
pub fn settle(
    app: &mut app::App,
    theme: &theme::Theme,
    clock: &draw::Clock,
    width: u16,
    height: u16,
) {
    render_offscreen(app, theme, clock, width, height);
    if app.map_stale() {
        app.update(app::Msg::Resize);
    }
}

/// The text of a buffer, one line per row, trailing spaces trimmed.
pub fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buf[(area.x + x, area.y + y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    #[test]
    fn dumb_or_colourless_terminals_get_the_plain_ui() {
        let xterm = Some(OsStr::new("xterm-256color"));
        assert!(!super::plain_ui(false, None, xterm));
        assert!(super::plain_ui(true, None, xterm));
        assert!(super::plain_ui(false, Some(OsStr::new("1")), xterm));
        assert!(!super::plain_ui(false, Some(OsStr::new("")), xterm));
        assert!(super::plain_ui(false, None, Some(OsStr::new("dumb"))));
        assert!(super::plain_ui(false, None, None));
    }
}
