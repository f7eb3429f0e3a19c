//! tracefs: where tracepoint ids and record layouts come from.
//!
//! The field offsets of a tracepoint's raw record are read from its `format` file at run time,
//! so no BTF, CO-RE or kernel headers are needed.

use super::TraceError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const MOUNTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The directory of tracefs, mounting it at /sys/kernel/tracing when it is not mounted and we
/// are root. The second value says whether we mounted it (the caller reports that: it changes
/// the host, harmlessly, and stays after we exit, as `perf` leaves it).
pub fn ensure_mounted() -> Result<(PathBuf, bool), TraceError> {
    for dir in MOUNTS {
        if Path::new(dir).join("events").is_dir() {
            return Ok((PathBuf::from(dir), false));
        }
    }
    if !crate::paths::is_root() {
        return Err(TraceError::NotMounted);
    }
    let target = MOUNTS[0];
    nix::mount::mount(
        Some("nodev"),
        target,
        Some("tracefs"),
        nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NODEV
            | nix::mount::MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|error| TraceError::Mount { target, error })?;
    if Path::new(target).join("events").is_dir() {
        Ok((PathBuf::from(target), true))
    } else {
        Err(TraceError::NoEvents(target))
    }
}

/// A tracepoint's id and its fields' (offset, size) in the raw record.
#[derive(Debug, Clone)]
pub struct Format {
    pub id: u64,
    pub fields: HashMap<String, (usize, usize)>,
}

impl Format {
    pub fn read(tracefs: &Path, system: &str, event: &str) -> Result<Format, TraceError> {
        let path = tracefs
            .join("events")
            .join(system)
            .join(event)
            .join("format");
        let text = match crate::kernel_file::read(&path) {
            Ok(text) => text,
            Err(error) => return Err(TraceError::ReadFormat { path, error }),
        };
        Format::parse(&text).ok_or(TraceError::NoId(path))
    }

    /// Parses lines like `field:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;`.
    pub fn parse(text: &str) -> Option<Format> {
        let mut id = None;
        let mut fields = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(v) = line.strip_prefix("ID:") {
                id = v.trim().parse().ok();
                continue;
            }
            let Some(rest) = line.strip_prefix("field:") else {
                continue;
            };
            let mut parts = rest.split(';').map(str::trim);
            let decl = parts.next().unwrap_or("");
            let name = decl
                .rsplit(|c: char| c.is_whitespace() || c == '*')
                .next()
                .unwrap_or("")
                .split('[')
                .next()
                .unwrap_or("");
            let mut offset = None;
            let mut size = None;
            for p in parts {
                if let Some(v) = p.strip_prefix("offset:") {
                    offset = v.parse().ok();
                } else if let Some(v) = p.strip_prefix("size:") {
                    size = v.parse().ok();
                }
            }
            if let (Some(o), Some(s)) = (offset, size)
                && !name.is_empty()
            {
                fields.insert(name.to_string(), (o, s));
            }
        }
        Some(Format { id: id?, fields })
    }

    pub fn field(&self, name: &str) -> Result<(usize, usize), TraceError> {
        self.fields
            .get(name)
            .copied()
            .ok_or_else(|| TraceError::NoField(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_inet_sock_set_state() {
        let text = "name: inet_sock_set_state\nID: 2287\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\n\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;\n\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;\n";
        let f = super::Format::parse(text).unwrap();
        assert_eq!(f.id, 2287);
        assert_eq!(f.field("skaddr").unwrap(), (8, 8));
        assert_eq!(f.field("sport").unwrap(), (24, 2));
        assert_eq!(f.field("saddr_v6").unwrap(), (40, 16));
        assert_eq!(f.field("common_flags").unwrap(), (2, 1));
        assert_eq!(
            f.field("nope").map_err(|e| e.to_string()),
            Err("tracepoint has no field nope".to_string())
        );
    }
}
