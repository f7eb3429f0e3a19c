//! Unit tests of [`super::sysctld`].

use super::sysctld::*;
use std::path::Path;

#[test]
fn parses_sysctl_d_syntax() {
    let text = "\
# comment
; also a comment

net.ipv4.ip_local_reserved_ports = 8080
net.ipv4.ip_local_reserved_ports=9000-9010
-net.ipv4.ip_local_reserved_ports = 1
 - net.ipv4.tcp_tw_reuse = 2
net/ipv4/ip_local_reserved_ports = 2
net/ipv4/conf/eth0.100/forwarding = 1
garbage line without equals
   net.ipv4.ip_local_reserved_ports   =   3 , 4   
";
    let got: Vec<(usize, String, String, bool)> = parse_conf(text)
        .into_iter()
        .map(|a| (a.line, a.key, a.value, a.ignore_errors))
        .collect();
    let want = [
        (4, KEY, "8080", false),
        (5, KEY, "9000-9010", false),
        (6, KEY, "1", true),
        (7, "net.ipv4.tcp_tw_reuse", "2", true),
        (8, KEY, "2", false),
        (9, "net.ipv4.conf.eth0/100.forwarding", "1", false),
        (11, KEY, "3 , 4", false),
    ];
    let want: Vec<(usize, String, String, bool)> = want
        .iter()
        .map(|&(l, k, v, i)| (l, k.to_string(), v.to_string(), i))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn checks_values() {
    let cases = [
        ("8080,9000-9010", Some("8080,9000-9010"), None),
        ("", Some(""), None),
        ("\"8080\"", None, Some("quoted value \"8080\"")),
        ("'8080'", None, Some("write it without quotes")),
        ("\"80,abc\"", None, Some("\"abc\"")),
        ("9010-9000", None, Some("reversed range")),
        ("70000", None, Some("\"70000\"")),
        (
            "8080, 9000",
            None,
            Some("write it as net.ipv4.ip_local_reserved_ports = 8080,9000"),
        ),
    ];
    for (raw, value, problem) in cases {
        let (v, p) = check_value(raw);
        assert_eq!(v.map(|s| s.to_string()).as_deref(), value, "{raw}");
        match (p, problem) {
            (None, None) => {}
            (Some(p), Some(want)) => assert!(p.message().contains(want), "{raw}: {p:?}"),
            (p, want) => panic!("{raw}: got {p:?}, want {want:?}"),
        }
    }
}

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = root.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    root
}

fn order(a: &Audit, root: &Path) -> Vec<String> {
    a.settings
        .iter()
        .map(|s| {
            format!(
                "{}:{}={}",
                s.file.strip_prefix(root).unwrap().display(),
                s.line,
                s.raw
            )
        })
        .collect()
}

#[test]
fn precedence_by_name_across_directories_with_masking() {
    let k = |v: &str| format!("{KEY} = {v}\n");
    let root = tree(&[
        ("usr/lib/sysctl.d/50-vendor.conf", &k("1")),
        ("usr/lib/sysctl.d/10-early.conf", &k("2")),
        ("usr/lib/sysctl.d/60-masked.conf", &k("3")),
        (
            "etc/sysctl.d/60-masked.conf",
            "# admin disabled the vendor file\n",
        ),
        ("run/sysctl.d/70-run.conf", &k("4")),
        ("usr/local/lib/sysctl.d/55-local.conf", &k("5")),
        (
            "etc/sysctl.d/40-admin.conf",
            &format!("{}{}", k("6"), k("7")),
        ),
        ("etc/sysctl.d/99-notconf.txt", &k("8")),
        ("etc/sysctl.conf", &k("9")),
    ]);
    let r = root.path();
    let a = audit(&SysctlLayout::under_root(r));
    assert_eq!(
        order(&a, r),
        [
            "usr/lib/sysctl.d/10-early.conf:1=2",
            "etc/sysctl.d/40-admin.conf:1=6",
            "etc/sysctl.d/40-admin.conf:2=7",
            "usr/lib/sysctl.d/50-vendor.conf:1=1",
            "usr/local/lib/sysctl.d/55-local.conf:1=5",
            "run/sysctl.d/70-run.conf:1=4",
            "etc/sysctl.conf:1=9",
        ]
    );
    assert_eq!(a.winner().map(|s| s.raw.as_str()), Some("9"));
    assert_eq!(a.masked.len(), 1);
    assert_eq!(a.masked[0].file, r.join("usr/lib/sysctl.d/60-masked.conf"));
    assert_eq!(a.masked[0].by, r.join("etc/sysctl.d/60-masked.conf"));
    let over = a.overriding(&r.join("usr/lib/sysctl.d/50-vendor.conf"));
    assert_eq!(over.len(), 3);
    let after: Vec<&Path> = a
        .after_dropin("60-masked.conf")
        .iter()
        .map(|s| s.file.as_path())
        .collect();
    assert_eq!(
        after,
        [
            r.join("run/sysctl.d/70-run.conf"),
            r.join("etc/sysctl.conf")
        ]
    );
    assert!(a.overriding(&r.join("etc/sysctl.conf")).is_empty());
}

#[test]
fn boot_value_skips_rejected_lines_and_admin_dir_replaces_etc() {
    let root = tree(&[
        ("elsewhere/20-good.conf", &format!("{KEY}=8080\n")),
        ("elsewhere/30-bad.conf", &format!("{KEY} = \"9000\"\n")),
        ("etc/sysctl.d/10-ignored.conf", &format!("{KEY}=1\n")),
    ]);
    let r = root.path();
    let layout = SysctlLayout::under_root(r).with_admin_dir(&r.join("elsewhere"));
    assert_eq!(layout.admin_dir(), Some(r.join("elsewhere").as_path()));
    let a = audit(&layout);
    assert_eq!(a.settings.len(), 2, "{a:#?}");
    assert!(a.winner().unwrap().problem.is_some());
    assert_eq!(a.boot_value().unwrap().raw, "8080");
    assert_eq!(a.problems().count(), 1);
}

#[test]
fn empty_and_missing_layout() {
    let root = tree(&[]);
    let a = audit(&SysctlLayout::under_root(root.path()));
    assert!(a.settings.is_empty() && a.unreadable.is_empty() && a.masked.is_empty());
    assert!(a.winner().is_none() && a.boot_value().is_none());
}

#[test]
fn fifo_and_unreadable_files_make_the_boot_value_unknown_and_bytes_are_read() {
    let root = tree(&[
        ("etc/sysctl.d/10-a.conf", &format!("{KEY}=8080\n")),
        ("etc/sysctl.d/30-c.conf", "# nothing here\n"),
    ]);
    let r = root.path();
    // A Latin-1 comment must not hide the assignment after it.
    std::fs::write(
        r.join("etc/sysctl.d/20-latin1.conf"),
        [
            b"# caf\xe9\n".as_slice(),
            format!("{KEY}=9000\n").as_bytes(),
        ]
        .concat(),
    )
    .unwrap();
    let a = audit(&SysctlLayout::under_root(r));
    assert_eq!(a.boot_value().unwrap().raw, "9000");
    nix::unistd::mkfifo(
        &r.join("etc/sysctl.d/25-fifo.conf"),
        nix::sys::stat::Mode::S_IRWXU,
    )
    .unwrap();
    let a = audit(&SysctlLayout::under_root(r));
    assert!(!a.boot_known, "{a:#?}");
    assert!(a.boot_value().is_none());
    assert!(a.unreadable[0].contains("25-fifo.conf") && a.unreadable[0].contains("FIFO"));
    // A later valid assignment settles it again.
    std::fs::write(r.join("etc/sysctl.d/40-d.conf"), format!("{KEY}=7000\n")).unwrap();
    let a = audit(&SysctlLayout::under_root(r));
    assert_eq!(a.boot_value().unwrap().raw, "7000");
}
