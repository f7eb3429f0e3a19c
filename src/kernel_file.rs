//! The one way portscope reads a kernel file (`/proc/sys/*`, `/proc/net/*`, `/proc/PID/*`).
//!
//! `std::fs::read_to_string` must never be used on procfs: it starts with a 32-byte probe read
//! (procfs reports a size of 0), and the kernel's large-bitmap sysctl handler
//! (`proc_do_large_bitmap`, behind `ip_local_reserved_ports`) answers only a read at offset 0.
//! A second read at offset 32 gets end-of-file, so `1000-1010,2000-2010,3000-3010,4000-4010`
//! reads back as `1000-1010,2000-2010,3000-3010,40`: a different, valid-looking list. portscope
//! once merged a port into that list and wrote it back, damaging the host's reservations.
//!
//! Here the first read asks for [`FIRST_READ`] bytes, more than any sysctl value can hold (a
//! write is limited to one page, so no handler prints more), and reading goes on until the
//! kernel says end-of-file, so seq_file tables (`/proc/net/tcp`, `netstat`) that span many reads
//! come whole too.

use std::io::{self, Read};
use std::path::Path;

/// The size of the first read: a sysctl value is at most a page, and a handler that answers
/// only at offset 0 must get all of it there.
pub const FIRST_READ: usize = 64 << 10;

/// The most a kernel value (anything but a socket table) may be; more is an error, not a cut.
pub const MAX_VALUE: usize = 4 << 20;

/// The most a socket table in text (`/proc/net/tcp` at a million sockets) may be.
pub const MAX_TABLE: usize = 512 << 20;

/// Reads a kernel value whole, as text.
pub fn read(path: impl AsRef<Path>) -> io::Result<String> {
    read_capped(path.as_ref(), MAX_VALUE)
}

/// Reads a kernel value whole and trims the newline the kernel ends it with.
pub fn read_trimmed(path: impl AsRef<Path>) -> io::Result<String> {
    read(path).map(|s| s.trim().to_string())
}

/// Reads a kernel value whole; bytes that are not UTF-8 (a cgroup or command name another user
/// chose) become U+FFFD instead of failing the read.
pub fn read_lossy(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref();
    let mut file = std::fs::File::open(path)?;
    let bytes = read_all(&mut file, MAX_VALUE)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads a kernel file of up to `cap` bytes whole: a large first read, then reads until
/// end-of-file. A file that does not end within `cap` is an error.
pub fn read_capped(path: &Path, cap: usize) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let bytes = read_all(&mut file, cap)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

/// Reads `r` to its end in reads of [`FIRST_READ`] bytes, the first at offset 0.
pub fn read_all(r: &mut impl Read, cap: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; FIRST_READ];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > cap {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("longer than {cap} bytes: not read"),
            ));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that answers only at offset 0, as `proc_do_large_bitmap` does.
    struct OffsetZeroOnly {
        text: Vec<u8>,
        pos: usize,
    }

    impl Read for OffsetZeroOnly {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos > 0 {
                return Ok(0);
            }
            let n = buf.len().min(self.text.len());
            buf[..n].copy_from_slice(&self.text[..n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn a_handler_that_answers_only_at_offset_zero_is_read_whole() {
        let value = "1000-1010,2000-2010,3000-3010,4000-4010\n".repeat(50);
        let mut r = OffsetZeroOnly {
            text: value.clone().into_bytes(),
            pos: 0,
        };
        assert_eq!(read_all(&mut r, MAX_VALUE).unwrap(), value.as_bytes());
    }

    #[test]
    fn a_long_stream_is_read_across_many_reads_and_capped() {
        let data = vec![b'x'; 3 * FIRST_READ + 17];
        assert_eq!(read_all(&mut &data[..], data.len()).unwrap(), data);
        assert!(read_all(&mut &data[..], data.len() - 1).is_err());
    }

    #[test]
    fn the_hosts_reserved_ports_read_the_same_as_a_one_shot_read() {
        // A read of the real file (read-only) agrees with one read of a page at offset 0.
        let path = crate::collect::sysctl::RESERVED_PORTS;
        let Ok(mut f) = std::fs::File::open(path) else {
            return;
        };
        let mut page = vec![0u8; 8192];
        let n = f.read(&mut page).unwrap();
        assert_eq!(read(path).unwrap().as_bytes(), &page[..n]);
    }
}
