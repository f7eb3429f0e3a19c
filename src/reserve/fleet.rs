//! The same change as text for other tools: the sysctl.d drop-in portscope writes, the commands a
//! person without root can run, and an Ansible task for a fleet.

use super::sysctld::KEY;
use crate::collect::NetnsTarget;
pub use crate::model::shell::shell_quote;
use crate::portset::PortSet;
use crate::safefs::Existing;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::path::Path;

/// File name of portscope's drop-in. `90-` sorts after the vendor defaults (`50-default.conf`,
/// `60-*`) so it wins over them, yet before the administrator's own `99-*` files and
/// /etc/sysctl.conf: a deliberate later setting is reported, not silently beaten.
pub const DROPIN_NAME: &str = "90-portscope-reserved-ports.conf";

/// The drop-in's text: a comment saying who wrote it and when, and one assignment in the strict
/// form sysctl.d needs (no quotes, no spaces inside the list).
pub fn dropin_content(value: &PortSet, written_at: jiff::Timestamp) -> String {
    format!(
        "# Written by portscope {} at {written_at:.0} (portscope reserve apply).\n\
         # Ports listed here are never handed out automatically as ephemeral ports;\n\
         # `portscope reserve undo` restores what was here before. See sysctl.d(5).\n\
         {KEY} = {value}\n",
        env!("CARGO_PKG_VERSION"),
    )
}

/// How to make a namespace's value survive when its configuration is not the host's files: each
/// runtime sets the sysctl when it creates the container's namespace. (What it is for, and the
/// lines themselves, to be shown whole.)
pub fn container_persistence(value: &PortSet) -> (&'static str, String) {
    (
        "To keep it when the container is recreated, set it where the container is defined",
        format!(
            "docker run --sysctl {KEY}={value} ...   (compose: sysctls: [{KEY}={value}])\n\
             podman run --sysctl {KEY}={value} ...\n\
             Kubernetes: spec.securityContext.sysctls: [{{name: {KEY}, value: \"{value}\"}}] \
             (a safe sysctl since Kubernetes 1.27)"
        ),
    )
}

/// A YAML string literal; JSON's quoting is valid YAML and escapes everything that needs it.
fn yaml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// One Ansible task (a YAML list with one item) that sets `value` at runtime and in `sysctl_file`.
pub fn ansible_task(value: &PortSet, sysctl_file: &Path) -> String {
    format!(
        "# The value is this host's merged list: it replaces whatever each target host has\n\
         # reserved. Check the hosts' current values first (sysctl {KEY}).\n\
         - name: {}\n  ansible.posix.sysctl:\n    name: {KEY}\n    value: {}\n    \
         sysctl_file: {}\n    sysctl_set: true\n    reload: true\n    state: present\n",
        yaml_str(&format!(
            "Reserve ports {} from ephemeral assignment (portscope)",
            if value.is_empty() {
                "(none)".to_string()
            } else {
                value.to_string()
            }
        )),
        yaml_str(&value.to_string()),
        yaml_str(&sysctl_file.display().to_string()),
    )
}

/// Shell commands that make the change by hand, for a user without root: run them with sudo.
pub fn manual_commands(value: &PortSet, netns: &NetnsTarget, dropin: Option<&Path>) -> String {
    let enter = netns.nsenter_prefix();
    let mut out = format!(
        "sudo {enter}sysctl -w {KEY}={}\n",
        shell_quote(&value.to_string())
    );
    if let Some(path) = dropin {
        _ = write!(
            out,
            "sudo tee {} >/dev/null <<'EOF'\n{}EOF\n",
            shell_quote(&path.display().to_string()),
            dropin_content(value, jiff::Timestamp::now())
        );
    }
    out
}

/// Shell commands that undo by hand what `plan` would undo: the merged runtime value, and the
/// drop-in's previous state (content, link, or its removal) when undo would put it back.
pub fn manual_restore(plan: &super::UndoPlan) -> String {
    let mut out = manual_commands(&plan.runtime_after, &plan.netns, None);
    if let Some(d) = plan.entry.dropin.as_ref().filter(|_| plan.dropin_restore) {
        let path = shell_quote(&d.path.display().to_string());
        match &d.previous {
            Existing::File { content, mode } => {
                let text = content.lossy();
                let body = if text.ends_with('\n') {
                    text.into_owned()
                } else {
                    format!("{text}\n")
                };
                _ = write!(
                    out,
                    "sudo tee {path} >/dev/null <<'PORTSCOPE_EOF'\n{body}PORTSCOPE_EOF\n\
                     sudo chmod {mode:o} {path}\n"
                );
            }
            Existing::Symlink { target } => {
                _ = writeln!(
                    out,
                    "sudo ln -sfn {} {path}",
                    shell_quote(&target.display().to_string())
                );
            }
            Existing::Absent => _ = writeln!(out, "sudo rm {path}"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_persistence_keeps_the_cli_text() {
        let v = PortSet::parse("8080,9000-9010").unwrap();
        let (intro, how) = container_persistence(&v);
        let cli = format!(
            "{intro}:\n{}",
            how.lines().fold(String::new(), |mut o, l| {
                _ = writeln!(o, "  {l}");
                o
            })
        );
        assert_eq!(
            cli,
            "To keep it when the container is recreated, set it where the container is defined:\n\
             \x20 docker run --sysctl net.ipv4.ip_local_reserved_ports=8080,9000-9010 ...   (compose: sysctls: [net.ipv4.ip_local_reserved_ports=8080,9000-9010])\n\
             \x20 podman run --sysctl net.ipv4.ip_local_reserved_ports=8080,9000-9010 ...\n\
             \x20 Kubernetes: spec.securityContext.sysctls: [{name: net.ipv4.ip_local_reserved_ports, value: \"8080,9000-9010\"}] (a safe sysctl since Kubernetes 1.27)\n"
        );
    }

    #[test]
    fn dropin_is_one_strict_assignment() {
        let v = PortSet::parse(" 9000-9010, 8080 ").unwrap();
        let text = dropin_content(&v, jiff::Timestamp::UNIX_EPOCH);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines, [format!("{KEY} = 8080,9000-9010")]);
        assert!(text.contains("portscope") && text.contains("1970-01-01T00:00:00Z"));
        let parsed = super::super::sysctld::parse_conf(&text);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].value, "8080,9000-9010");
    }

    #[test]
    fn manual_commands_quote_and_enter_the_namespace() {
        let v = PortSet::parse("8080").unwrap();
        let cur = manual_commands(&v, &NetnsTarget::Current, None);
        assert_eq!(cur, format!("sudo sysctl -w {KEY}=8080\n"));
        let other = manual_commands(
            &v,
            &NetnsTarget::Pid(42),
            Some(Path::new("/etc/sysctl.d/x y.conf")),
        );
        assert!(other.starts_with("sudo nsenter --net=/proc/42/ns/net sysctl -w"));
        assert!(other.contains("sudo tee '/etc/sysctl.d/x y.conf'"));
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
