//! The one way command-line text reaches a terminal, and what a failed write means.
//!
//! Text output goes through [`TermSafe`], which runs [`escape_lines`] over everything written:
//! foreign fields are already escaped by their type, and anything else (a path, a kernel error,
//! a name in a warning) cannot carry a control sequence either. JSON goes to [`Stdout::raw`]
//! unescaped: serde writes exact, valid JSON.
//!
//! A write error is portscope's failure, not bad input: status 1 with one line, and quietly
//! for a reader that went away (`| head`).

use super::{CliError, CliResult};
use crate::escape::escape_lines;
use std::io::{self, Write};
use std::process::ExitCode;

/// Escapes each write as text. Every caller writes whole `str`s (`write_all`, `writeln!`), so
/// a chunk never splits a character.
pub struct TermSafe<W: Write>(pub W);

impl<W: Write> Write for TermSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(escape_lines(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

pub type StdoutBuf = io::BufWriter<io::StdoutLock<'static>>;

/// Buffered stdout, for text (escaped) or JSON (exact).
pub struct Stdout {
    text: TermSafe<StdoutBuf>,
}

impl Default for Stdout {
    fn default() -> Self {
        Stdout::new()
    }
}

impl Stdout {
    pub fn new() -> Stdout {
        Stdout {
            text: TermSafe(io::BufWriter::with_capacity(1 << 16, io::stdout().lock())),
        }
    }

    /// The escaping writer, for streamed text.
    pub fn text_writer(&mut self) -> &mut TermSafe<StdoutBuf> {
        &mut self.text
    }

    pub fn text(&mut self, s: &str) -> io::Result<()> {
        self.text.write_all(s.as_bytes())
    }

    /// The unescaped writer: JSON only.
    pub fn raw(&mut self) -> &mut StdoutBuf {
        &mut self.text.0
    }

    pub fn json<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> io::Result<()> {
        serde_json::to_writer_pretty(self.raw(), v).map_err(io::Error::from)?;
        self.raw().write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.text.flush()
    }
}

/// The first stdout write that failed, for the exit status (see [`finish`]).
static WRITE_FAILED: std::sync::Mutex<Option<io::Error>> = std::sync::Mutex::new(None);

/// Records a failed write (only the first is kept); returns whether `r` was fine.
pub fn record(r: io::Result<()>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => {
            let mut slot = WRITE_FAILED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            slot.get_or_insert(e);
            false
        }
    }
}

/// Writes `s` as text to stdout and flushes. A failure is remembered for the exit status.
pub fn print(s: &str) {
    let mut out = Stdout::new();
    record(out.text(s).and_then(|()| out.flush()));
}

/// Writes `v` as JSON to stdout and flushes.
pub fn print_json<T: serde::Serialize + ?Sized>(v: &T) {
    let mut out = Stdout::new();
    record(out.json(v).and_then(|()| out.flush()));
}

/// A command's result once it is done: a failed write to stdout turns success into a
/// [`CliError::Output`] with status 1 (reported as one line, or quietly when the reader closed
/// the pipe, which was its choice). A status that already says something (1 from `why`) is
/// kept; an error the command returned is the one reported.
pub fn finish(result: CliResult) -> CliResult {
    let failed = WRITE_FAILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    match (result, failed) {
        (Ok(code), Some(e)) => {
            let status = if code == ExitCode::SUCCESS {
                ExitCode::from(1)
            } else {
                code
            };
            Err(CliError::output(&e, status))
        }
        (result, _) => result,
    }
}

/// `check`'s result once it is done: a plugin whose answer could not be written has not
/// answered, so a failed write is UNKNOWN (3), never the status of a line nobody read. The
/// reason goes to stderr (stdout is what failed), except for a reader that went away.
pub fn finish_check(result: CliResult) -> CliResult {
    let failed = WRITE_FAILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    match (result, failed) {
        (Ok(_), Some(e)) => Err(CliError::output(&e, ExitCode::from(EXIT_UNKNOWN))),
        (Err(CliError::CheckUnknown(msg)), None) => Err(CliError::CheckUnknown(msg)),
        (result, _) => result,
    }
}

/// One line on stderr, escaped (messages quote paths and arguments).
pub fn eprint_line(s: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(escape_lines(s).as_bytes());
    let _ = err.write_all(b"\n");
}

/// Exit status for bad arguments of `check`: a monitor must not read a typo as CRITICAL.
pub const EXIT_UNKNOWN: u8 = 3;

/// How [`super::CliError::report`] prints `check`'s UNKNOWN, the plugin's answer to anything
/// it could not judge: one line, exit 3. With `--json` on the command line (even one that did
/// not parse) it is a JSON document, so a fleet run that gathers JSON gets one from every host.
pub fn print_unknown(msg: &str) {
    let msg = crate::guard::why_line::one_line(msg);
    if std::env::args().skip(1).any(|a| a == "--json") {
        let doc = serde_json::json!({
            "version": 1,
            "host": crate::guard::hostname(),
            "status": "unknown",
            "exit_code": EXIT_UNKNOWN,
            "summary": msg,
            "services": [],
            "host_checks": [],
        });
        print_json(&doc);
    } else {
        print(&format!("PORTSCOPE UNKNOWN - {msg}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_escapes_each_write() {
        let mut w = TermSafe(Vec::new());
        let name = String::from("a\x1b]0;t\x07");
        writeln!(w, "{name} x").unwrap();
        w.write_all("é\u{9b}".as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(w.0).unwrap(),
            "a\\e]0;t\\x07 x\né\\u{009b}"
        );
    }
}
