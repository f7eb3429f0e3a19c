//! Which program runs when portscope runs `systemctl`, `docker`, `iptables-save`.
//!
//! Never what PATH finds: root's PATH under sudo or cron can carry a user's directory, and a
//! `docker` planted there would run as root. Tools are looked up in a fixed system search path
//! ([`SYSTEM_PATH`]), or in the directories root names on the command line (`--tool-path`,
//! for tools installed elsewhere and for tests' stand-ins): an explicit choice of the person
//! running portscope, never inherited from the environment. The program is run by its absolute
//! path, which the dialogs show exactly as run, with the same search path as its PATH.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where tools are found unless `--tool-path` says otherwise.
pub const SYSTEM_PATH: [&str; 4] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

static PATH: OnceLock<Vec<PathBuf>> = OnceLock::new();

/// Sets the search path for this process, once, from `--tool-path` (before any tool runs).
pub fn set_path(dirs: Vec<PathBuf>) {
    let _ = PATH.set(dirs);
}

/// The directories searched, in order.
pub fn search_path() -> Vec<PathBuf> {
    PATH.get()
        .cloned()
        .unwrap_or_else(|| SYSTEM_PATH.iter().map(PathBuf::from).collect())
}

/// The search path as a person reads it (and as the tool's own PATH).
pub fn search_path_text() -> String {
    search_path()
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// A tool that is not in the search path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name} is not in {path} (tools are never looked up through PATH; --tool-path DIR adds a directory)"
)]
pub struct Missing {
    pub name: String,
    pub path: String,
}

/// The absolute path of `name`: an executable regular file in the search path. A name with a
/// slash is not looked up (nothing portscope runs is named that way).
pub fn find(name: &str) -> Result<PathBuf, Missing> {
    let missing = || Missing {
        name: name.to_string(),
        path: search_path_text(),
    };
    if name.is_empty() || name.contains('/') {
        return Err(missing());
    }
    search_path()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| is_executable_file(p))
        .ok_or_else(missing)
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A command for `name`, by its absolute path, with the search path as its PATH.
pub fn command(name: &str) -> Result<Command, Missing> {
    let path = find(name)?;
    let mut c = Command::new(path);
    c.env("PATH", search_path_text());
    Ok(c)
}

/// `--tool-path DIR[:DIR...]` as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPath(pub Vec<PathBuf>);

/// Parses `--tool-path` for clap.
pub fn parse_tool_path(s: &str) -> Result<ToolPath, String> {
    parse_path(s).map(ToolPath)
}

/// Parses `--tool-path DIR[:DIR...]`: absolute directories only.
pub fn parse_path(s: &str) -> Result<Vec<PathBuf>, String> {
    let dirs: Vec<PathBuf> = s
        .split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        return Err("names no directory".into());
    }
    if let Some(rel) = dirs.iter().find(|d| !d.is_absolute()) {
        return Err(format!("{} is not an absolute directory", rel.display()));
    }
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_found_in_the_system_path_only_and_by_absolute_path() {
        // sh exists in /bin or /usr/bin on every system these tests run on.
        let sh = find("sh").unwrap();
        assert!(sh.is_absolute());
        assert!(SYSTEM_PATH.iter().any(|d| sh.starts_with(d)), "{sh:?}");
        assert!(find("./sh").is_err());
        assert!(find("").is_err());
        let e = find("no-such-tool-portscope").unwrap_err().to_string();
        assert!(e.contains("never looked up through PATH"), "{e}");
    }

    #[test]
    fn the_tool_path_flag_takes_absolute_directories() {
        assert_eq!(
            parse_path("/opt/bin:/usr/local/bin").unwrap(),
            [PathBuf::from("/opt/bin"), PathBuf::from("/usr/local/bin")]
        );
        assert!(parse_path("bin:/usr/bin").is_err());
        assert!(parse_path("").is_err());
    }
}
