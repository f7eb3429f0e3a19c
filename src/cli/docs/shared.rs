//! What the man pages say in ENVIRONMENT and FILES, from the values the code itself uses: the
//! variables it reads and the paths it opens (`crate::paths`, the runtime roots, the sysctl
//! layout, the drop-in's name), each listed on the pages of the commands that use it.

use crate::collect::container::roots::RuntimeRoots;
use crate::paths::{ACTION_LOG, CONFIG_FILE, RESERVE_JOURNAL};
use crate::reserve::{DROPIN_NAME, sysctld::SysctlLayout};

/// A page's command: "" for portscope(1) itself (the TUI), else the first subcommand word.
type Pages = &'static [&'static str];

/// Commands that read the socket tables and the processes (and so container runtime state).
const COLLECT: Pages = &[
    "", "snapshot", "why", "fix", "reserve", "check", "metrics", "services", "watch",
];
const CONFIG: Pages = &["", "why", "fix", "check", "metrics", "services"];
const DATA: Pages = &["", "fix", "reserve"];
const SYSCTL: Pages = &["", "reserve", "check", "metrics", "fix"];

/// One entry of ENVIRONMENT or FILES: a term and its text (Markdown, as the pages' own).
pub struct Entry {
    pub term: String,
    pub text: String,
    pages: Pages,
}

impl Entry {
    fn new(term: impl Into<String>, text: impl Into<String>, pages: Pages) -> Entry {
        Entry {
            term: term.into(),
            text: text.into(),
            pages,
        }
    }
}

fn shown(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every variable portscope reads.
pub fn environment() -> Vec<Entry> {
    let d = RuntimeRoots::with_prefix(std::path::Path::new("/"));
    let one = |var: &str, what: &str, default: String| {
        Entry::new(
            format!("`{var}`"),
            format!("{what} (`:`-separated; default {default})."),
            COLLECT,
        )
    };
    vec![
        Entry::new(
            "`NO_COLOR`",
            "Set and not empty: the TUI draws without colours, as `--no-color` (no-color.org).",
            &[""],
        ),
        Entry::new(
            "`TERM`",
            "`dumb`, or a terminal without colours: the TUI draws plainly, without colours.",
            &[""],
        ),
        Entry::new(
            "`XDG_CONFIG_HOME`",
            "Where the config file is looked for (default `~/.config`).",
            CONFIG,
        ),
        Entry::new(
            "`XDG_DATA_HOME`",
            "Where the undo journal and the action log are kept (default `~/.local/share`).",
            DATA,
        ),
        Entry::new(
            "`HOME`",
            "The base of the XDG defaults above when those are unset.",
            &["", "why", "fix", "check", "metrics", "services", "reserve"],
        ),
        Entry::new(
            "`PORTSCOPE_RUNTIME_ROOT`",
            "A directory the container runtimes' default state locations below are moved under \
             (a copied tree, a test), default `/`.",
            COLLECT,
        ),
        one(
            "PORTSCOPE_DOCKER_ROOT",
            "Docker data roots (`containers/ID/config.v2.json`)",
            shown(&d.docker),
        ),
        one(
            "PORTSCOPE_CONTAINERD_STATE",
            "containerd state directories (task bundles' `config.json`)",
            shown(&d.containerd),
        ),
        one(
            "PORTSCOPE_CONTAINERS_RUN",
            "containers-storage run roots (CRI-O, podman)",
            shown(&d.containers_run),
        ),
        one(
            "PORTSCOPE_CONTAINERS_STORAGE",
            "containers-storage graph roots (podman's `containers.json`)",
            shown(&d.containers_storage),
        ),
        one(
            "PORTSCOPE_KUBELET_LOGS",
            "the directory holding kubelet's `pods/` and `containers/` logs",
            shown(std::slice::from_ref(&d.kubelet_logs)),
        ),
        one(
            "PORTSCOPE_NERDCTL_ROOT",
            "nerdctl data stores",
            shown(&d.nerdctl),
        ),
        Entry::new(
            "`PORTSCOPE_FAILPOINT`",
            "For tests only: names a step of apply, undo or finish at which portscope kills \
             itself, to prove each step recoverable. Never set it on a host you care about.",
            &["reserve"],
        ),
    ]
}

/// Every file portscope reads or writes on its own account.
pub fn files() -> Vec<Entry> {
    let layout = SysctlLayout::SYSTEM_DIRS.join("/*.conf`, `");
    vec![
        Entry::new(
            format!("`$XDG_CONFIG_HOME/portscope/{CONFIG_FILE}`"),
            format!(
                "The config file (default `~/.config/portscope/{CONFIG_FILE}`; `--config FILE` \
                 names another): the TUI's settings and keys, `[[service]]` declarations, the \
                 `[protect]` list. portscope(1) describes it."
            ),
            CONFIG,
        ),
        Entry::new(
            format!("`$XDG_DATA_HOME/portscope/{ACTION_LOG}`"),
            "The action log: one line per signal, stop or close, with its outcome (created 0600, \
             never through a link).",
            &["", "fix"],
        ),
        Entry::new(
            format!("`$XDG_DATA_HOME/portscope/{RESERVE_JOURNAL}`"),
            "The undo journal of reserved-ports changes (`reserve undo`, `apply --finish`).",
            DATA,
        ),
        Entry::new(
            format!("`/etc/sysctl.d/{DROPIN_NAME}`"),
            "The drop-in `reserve apply` writes (`--sysctl-dir`, `--sysctl-root` move it).",
            &["", "reserve", "check"],
        ),
        Entry::new(
            format!("`{layout}/*.conf`, `{}`", SysctlLayout::SYSTEM_CONF),
            "Read (never written but for the drop-in) to learn what the boot configuration sets, \
             in sysctl.d(5) order.",
            SYSCTL,
        ),
        Entry::new(
            "`/proc/net/tcp`, `/proc/net/udp` (and `6`), `/proc/PID/fd`, `/proc/PID/cgroup`",
            "Sockets (when netlink sock_diag is unavailable) and their owners.",
            COLLECT,
        ),
        Entry::new(
            "`/proc/sys/net/ipv4/ip_local_port_range`, `.../ip_local_reserved_ports`",
            "The ephemeral range and the reserved ports, per network namespace.",
            COLLECT,
        ),
        Entry::new(
            "`/run/netns/NAME`",
            "Named network namespaces (`--netns NAME`, `ip netns`).",
            COLLECT,
        ),
        Entry::new(
            "the `--record FILE`",
            "A history log: one change a line, each with its checksum; read by \
             portscope-history(1) and `--replay`. No default: only where asked.",
            &["", "watch", "history"],
        ),
        Entry::new(
            format!("`DIR/{}`", crate::guard::metrics::FILE_NAME),
            "The metrics, with `--textfile DIR`, replaced atomically.",
            &["metrics"],
        ),
    ]
}

/// The entries for one page, as a Markdown table body.
pub fn for_page(entries: Vec<Entry>, command: &str) -> String {
    let rows: Vec<String> = entries
        .into_iter()
        .filter(|e| e.pages.contains(&command))
        .map(|e| format!("| {} | {} |", e.term, e.text.replace('|', "\\|")))
        .collect();
    if rows.is_empty() {
        "None.\n".to_string()
    } else {
        rows.join("\n") + "\n"
    }
}
