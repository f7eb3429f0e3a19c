//! Durable file replacement: a reader (or a crash) sees the old file or the new one, never a
//! half-written or stale-tailed one.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

fn parent(path: &Path) -> io::Result<&Path> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => Ok(p),
        Some(_) => Ok(Path::new(".")),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no directory", path.display()),
        )),
    }
}

/// A name in the same directory that sysctl ignores (it reads only `*.conf`) and that a
/// concurrent writer will not pick.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.portscope-{}.tmp", std::process::id()))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `contents` to a temp file beside `path`, fsyncs it, renames it over `path`, and fsyncs
/// the directory so the rename itself survives a crash.
pub fn write(path: &Path, contents: &str, mode: u32) -> io::Result<()> {
    let dir = parent(path)?;
    let tmp = temp_name(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes `path` (absent is fine) and fsyncs its directory.
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_dir(parent(path)?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The file's text, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Puts a file back as it was: `Some(text)` rewrites it, `None` removes it.
pub fn restore(path: &Path, previous: Option<&str>) -> io::Result<()> {
    match previous {
        Some(text) => write(path, text, 0o644),
        None => remove(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.conf");
        write(&p, "a much longer first version\n", 0o644).unwrap();
        write(&p, "short\n", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "short\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        restore(&p, None).unwrap();
        assert_eq!(read_optional(&p).unwrap(), None);
        restore(&p, None).unwrap();
        restore(&p, Some("back\n")).unwrap();
        assert_eq!(read_optional(&p).unwrap().as_deref(), Some("back\n"));
    }

    #[test]
    fn fails_under_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(write(&file.join("x.conf"), "x", 0o644).is_err());
    }
}
