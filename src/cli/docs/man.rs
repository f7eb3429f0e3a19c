//! One man page per command (portscope(1), portscope-why(1), portscope-reserve-plan(1), ...):
//! NAME, SYNOPSIS, DESCRIPTION and OPTIONS from the clap definition (clap_mangen), then the
//! page's own text from `assets/man/` (JSON output, EXIT STATUS, EXAMPLES, SEE ALSO, ...), and
//! ENVIRONMENT and FILES from [`super::shared`].

use super::roff;
use clap::builder::{PossibleValue, TypedValueParser};

/// Each top-level page's own text, by command ("" is portscope(1)).
pub const TEXTS: &[(&str, &str)] = &[
    ("", include_str!("../../../assets/man/portscope.md")),
    (
        "snapshot",
        include_str!("../../../assets/man/portscope-snapshot.md"),
    ),
    ("why", include_str!("../../../assets/man/portscope-why.md")),
    ("fix", include_str!("../../../assets/man/portscope-fix.md")),
    (
        "reserve",
        include_str!("../../../assets/man/portscope-reserve.md"),
    ),
    (
        "check",
        include_str!("../../../assets/man/portscope-check.md"),
    ),
    (
        "metrics",
        include_str!("../../../assets/man/portscope-metrics.md"),
    ),
    (
        "services",
        include_str!("../../../assets/man/portscope-services.md"),
    ),
    (
        "fleet",
        include_str!("../../../assets/man/portscope-fleet.md"),
    ),
    (
        "completions",
        include_str!("../../../assets/man/portscope-completions.md"),
    ),
    ("man", include_str!("../../../assets/man/portscope-man.md")),
    (
        "watch",
        include_str!("../../../assets/man/portscope-watch.md"),
    ),
    (
        "history",
        include_str!("../../../assets/man/portscope-history.md"),
    ),
    (
        "report",
        include_str!("../../../assets/man/portscope-report.md"),
    ),
];

/// The sections every top-level page has, in this order after its own extra sections.
pub const CLOSING: [&str; 5] = [
    "EXIT STATUS",
    "ENVIRONMENT",
    "FILES",
    "EXAMPLES",
    "SEE ALSO",
];

/// A page: the (built) clap command and its path below `portscope`.
pub struct Page {
    cmd: clap::Command,
    path: Vec<String>,
}

impl Page {
    /// Every page: portscope(1) and one per subcommand, nested ones included.
    pub fn all(root: &clap::Command) -> Vec<Page> {
        let mut root = root.clone();
        root.build();
        let mut out = Vec::new();
        walk(&root, &[], &mut out);
        out
    }

    /// The page named `why`, `reserve-plan`, `portscope-why` or `portscope` ("" too).
    pub fn find(root: &clap::Command, name: &str) -> Option<Page> {
        let name = name.strip_prefix("portscope").unwrap_or(name);
        let name = name.strip_prefix('-').unwrap_or(name);
        Page::all(root)
            .into_iter()
            .find(|p| p.path.join("-") == name)
    }

    /// `portscope-reserve-plan`.
    pub fn name(&self) -> String {
        std::iter::once("portscope".to_string())
            .chain(self.path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-")
    }

    pub fn file_name(&self) -> String {
        format!("{}.1", self.name())
    }

    /// The top-level command the page belongs to ("" for portscope(1)).
    fn command(&self) -> &str {
        self.path.first().map_or("", String::as_str)
    }

    /// The page in roff.
    pub fn render(&self) -> std::io::Result<Vec<u8>> {
        let man = clap_mangen::Man::new(self.cmd.clone())
            .title(self.name())
            .section("1")
            .source(format!("portscope {}", env!("CARGO_PKG_VERSION")))
            .manual("portscope manual");
        let own = TEXTS
            .iter()
            .find(|(c, _)| self.path.len() <= 1 && *c == self.command())
            .map(|(_, md)| roff::sections(md))
            .unwrap_or_default();
        let text_of = |name: &str| own.iter().find(|s| s.name == name).map(|s| s.body.clone());
        let mut w = Vec::new();
        man.render_title(&mut w)?;
        man.render_name_section(&mut w)?;
        man.render_synopsis_section(&mut w)?;
        man.render_description_section(&mut w)?;
        if let Some(more) = text_of("DESCRIPTION") {
            w.extend_from_slice(b".PP\n");
            w.extend_from_slice(roff::body(&more).as_bytes());
        }
        man.render_options_section(&mut w)?;
        if self.cmd.get_subcommands().any(|s| s.get_name() != "help") {
            man.render_subcommands_section(&mut w)?;
        }
        for s in own
            .iter()
            .filter(|s| s.name != "DESCRIPTION" && !CLOSING.contains(&s.name.as_str()))
        {
            w.extend_from_slice(roff::section(&s.name, &s.body).as_bytes());
        }
        let command = self.command();
        for name in CLOSING {
            let md = match name {
                "ENVIRONMENT" => Some(super::shared::for_page(
                    super::shared::environment(),
                    command,
                )),
                "FILES" => Some(super::shared::for_page(super::shared::files(), command)),
                "SEE ALSO" => Some(self.see_also(text_of(name))),
                "EXIT STATUS" if self.path.len() > 1 => {
                    Some(format!("As portscope-{command}(1) says.\n"))
                }
                _ => text_of(name),
            };
            if let Some(md) = md {
                w.extend_from_slice(roff::section(name, &md).as_bytes());
            }
        }
        // clap_mangen's own VERSION section wants a version on every subcommand.
        w.extend_from_slice(format!(".SH VERSION\nv{}\n", env!("CARGO_PKG_VERSION")).as_bytes());
        Ok(w)
    }

    /// The page's own SEE ALSO, then its parent and children, and (on portscope(1)) every page.
    fn see_also(&self, own: Option<String>) -> String {
        let mut refs: Vec<String> = Vec::new();
        if !self.path.is_empty() {
            refs.push("portscope(1)".into());
        }
        if self.path.len() > 1 {
            refs.push(format!("portscope-{}(1)", self.command()));
        }
        let mut children: Vec<String> = self
            .cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .map(|s| format!("{}-{}(1)", self.name(), s.get_name()))
            .collect();
        refs.append(&mut children);
        let own = own.unwrap_or_default();
        let own = own.trim();
        match (refs.is_empty(), own.is_empty()) {
            (true, _) => format!("{own}\n"),
            (false, true) => format!("{}\n", refs.join(", ")),
            (false, false) => format!("{}, {own}\n", refs.join(", ")),
        }
    }
}

fn walk(cmd: &clap::Command, path: &[String], out: &mut Vec<Page>) {
    out.push(Page {
        cmd: cmd.clone(),
        path: path.to_vec(),
    });
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut p = path.to_vec();
        p.push(sub.get_name().to_string());
        walk(sub, &p, out);
    }
}

/// `man`'s COMMAND: any page name, with the top-level commands offered by `--help` and
/// completion (the list is static: the parser cannot ask the command line it is part of).
#[derive(Clone)]
pub struct PageNames;

pub fn page_names() -> PageNames {
    PageNames
}

impl TypedValueParser for PageNames {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        Ok(value.to_string_lossy().into_owned())
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            TEXTS
                .iter()
                .filter(|(c, _)| !c.is_empty())
                .map(|(c, _)| PossibleValue::new(*c)),
        ))
    }
}
