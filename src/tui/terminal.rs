//! The terminal's UI mode (raw input, alternate screen, hidden cursor): entered in one place and
//! left in one place, on every way out — quit, error, panic, a terminating signal, a stop.

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use std::io::stdout;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the UI holds the terminal: a panic then restores it and ends the process.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Raw mode, alternate screen (cleared), cursor hidden, bracketed paste (a paste arrives as
/// one text, never as keys). Safe to call again (after a stop): each step is idempotent.
pub fn enter() -> std::io::Result<()> {
    ACTIVE.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    execute!(
        stdout(),
        EnterAlternateScreen,
        Clear(ClearType::All),
        Hide,
        EnableBracketedPaste
    )
}

/// Back to the shell's terminal: main screen, cursor shown, cooked mode. Best effort, every
/// step tried even when one fails (the terminal may be gone after SIGHUP). portscope enables
/// no mouse capture, so bracketed paste is the only mode to turn off.
pub fn leave() {
    ACTIVE.store(false, Ordering::SeqCst);
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), DisableBracketedPaste, LeaveAlternateScreen, Show);
}

/// Restores the terminal before the panic report (color-eyre's hook, installed first, prints
/// it), then ends the process: a panic on the collector or input thread would otherwise leave
/// the UI running on a restored terminal.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let was_active = ACTIVE.load(Ordering::SeqCst);
        if was_active {
            leave();
        }
        previous(info);
        if was_active {
            std::process::exit(101);
        }
    }));
}
