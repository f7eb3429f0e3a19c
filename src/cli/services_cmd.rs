//! `portscope services`: propose `[[service]]` declarations and, on request, add them to the
//! config file (atomically, never through a symbolic link).

use super::{CliError, CliResult};
use crate::collect::{CollectOptions, NetnsTarget};
use crate::guard::discover::{Found, config_text, discover};
use crate::guard::why_line::one_line;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Add what was found to the config file (--config, or the default one).
    #[arg(long)]
    pub write: bool,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Read systemd unit files below ROOT instead of / (an image, a test tree).
    #[arg(long, value_name = "ROOT")]
    pub unit_root: Option<PathBuf>,
    /// Only socket units; do not look at the listeners.
    #[arg(long)]
    pub no_listeners: bool,
}

fn table(found: &[Found]) -> String {
    let mut out = String::new();
    let rows: Vec<[String; 5]> = found
        .iter()
        .map(|f| {
            // Command names come from other processes: one printable line each.
            [
                f.service.name.clone(),
                f.service.ports_label(),
                f.service
                    .process
                    .as_deref()
                    .map_or_else(|| "-".into(), one_line),
                f.source.replace('_', " "),
                one_line(&f.detail),
            ]
        })
        .collect();
    let head = ["SERVICE", "PORTS", "PROCESS", "SOURCE", "DETAIL"].map(String::from);
    let all: Vec<&[String; 5]> = std::iter::once(&head).chain(rows.iter()).collect();
    let w: Vec<usize> = (0..5)
        .map(|c| {
            all.iter()
                .map(|r| super::table::width(&r[c]))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in all {
        let line: Vec<String> = (0..5).map(|c| super::table::pad(&r[c], w[c])).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Why `services --write` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{} is not a file path", .0.display())]
    NotAFilePath(PathBuf),
    #[error("{}: {source}", .dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] crate::safefs::FileError),
    #[error("{} is not UTF-8 text: not a config file", .0.display())]
    NotUtf8(PathBuf),
    #[error("the new config would not load ({0}); nothing written")]
    WouldNotLoad(#[source] Invalid),
}

/// Why a config's `[[service]]` declarations do not load.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    #[error("{}", .0.message())]
    Toml(#[from] toml::de::Error),
    #[error(transparent)]
    Service(#[from] crate::guard::service::ServiceError),
}

fn write_config(path: &Path, found: &[Found]) -> Result<(), WriteError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| WriteError::NotAFilePath(path.to_path_buf()))?;
    std::fs::create_dir_all(&dir).map_err(|source| WriteError::CreateDir {
        dir: dir.clone(),
        source,
    })?;
    let dir = crate::safefs::Dir::open(&dir)?;
    let existing = dir.read_regular(&name)?;
    let mut text = match existing {
        Some(b) => String::from_utf8(b).map_err(|_| WriteError::NotUtf8(path.to_path_buf()))?,
        None => String::new(),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&config_text(found));
    // What goes in must load: write nothing that would stop portscope from starting. The rest
    // of the file loaded before; the declarations are what changed.
    validate(&text).map_err(WriteError::WouldNotLoad)?;
    Ok(dir.write_atomic(&name, text.as_bytes(), 0o644)?)
}

fn validate(text: &str) -> Result<(), Invalid> {
    #[derive(serde::Deserialize)]
    struct Services {
        #[serde(default)]
        service: Vec<crate::guard::service::ServiceEntry>,
    }
    let v: toml::Table = toml::from_str(text)?;
    let only = toml::Table::from_iter(v.get("service").map(|s| ("service".to_string(), s.clone())));
    let s: Services = only.try_into()?;
    crate::guard::service::validate_all(&s.service)?;
    Ok(())
}

pub fn run(args: &ServicesArgs, netns: &NetnsTarget, config: Option<&Path>) -> CliResult {
    let cfg = match crate::config::load(config) {
        Ok(c) => c,
        Err(e) => return Err(CliError::bad_input(e)),
    };
    let snap = if args.no_listeners {
        None
    } else {
        match super::collect_for_cli(&CollectOptions {
            netns: netns.clone(),
            ..CollectOptions::default()
        }) {
            Ok(s) => Some(s),
            Err(e) => return Err(e),
        }
    };
    let root = args.unit_root.as_deref().unwrap_or(Path::new("/"));
    let found = discover(snap.as_ref(), root, &cfg.services);
    if args.json {
        super::out::print_json(&serde_json::json!({
            "version": 1,
            "declared": cfg.services,
            "found": found,
        }));
    } else if found.is_empty() {
        super::out::print(&format!(
            "Nothing new to declare ({} service{} declared already).\n",
            cfg.services.len(),
            if cfg.services.len() == 1 { "" } else { "s" }
        ));
    } else {
        super::out::print(&table(&found));
    }
    if !args.write {
        if !args.json && !found.is_empty() {
            super::out::print("\nTo declare them: portscope services --write (or paste):\n");
            super::out::print(&config_text(&found));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(path) = config
        .map(Path::to_path_buf)
        .or_else(crate::config::default_path)
    else {
        return Err(CliError::failed("no config path: give --config FILE", 1));
    };
    if found.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    match write_config(&path, &found) {
        Ok(()) => {
            if !args.json {
                super::out::print(&format!(
                    "\nAdded {} service{} to {}.\n",
                    found.len(),
                    if found.len() == 1 { "" } else { "s" },
                    path.display()
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(CliError::failed(e, 1)),
    }
}
