#![allow(clippy::unwrap_used)]
//! The shape of the source tree, checked: `analyze` is pure by construction (it reaches only
//! `model` and itself, and no I/O API), and no file in src/ grows past 500 lines.

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

/// Files known to be over the limit while another branch splits them. An entry that is no
/// longer over the limit fails the test, so the exception is deleted with the fix.
const KNOWN_OVER: &[&str] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src(sub: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join(sub), &mut files);
    assert!(!files.is_empty(), "no sources under {sub}");
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            (rel, text)
        })
        .collect()
}

/// Every `crate::NAME` path in `text` whose NAME is not allowed, as "file:line: crate::NAME".
fn foreign_crate_paths(file: &str, text: &str, allowed: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '{')
                .collect();
            // `use crate::{a, b}` names several modules: check each.
            let names: Vec<String> = if name.starts_with('{') {
                after[1..]
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(|s| s.trim().split("::").next().unwrap_or("").to_string())
                    .collect()
            } else {
                vec![name]
            };
            for name in names {
                if !name.is_empty() && !allowed.contains(&name.as_str()) {
                    bad.push(format!("{file}:{}: crate::{name}", n + 1));
                }
            }
            rest = after;
        }
    }
    bad
}

#[test]
fn analyze_reaches_only_model_and_itself() {
    let mut bad = Vec::new();
    for (file, text) in src("src/analyze") {
        bad.extend(foreign_crate_paths(&file, &text, &["model", "analyze"]));
    }
    assert!(
        bad.is_empty(),
        "analyze must import only crate::model and crate::analyze (move value types into model, \
         keep I/O in collect/action):\n{}",
        bad.join("\n")
    );
}

#[test]
fn analyze_calls_no_io_api() {
    const IO: &[&str] = &[
        "std::fs",
        "std::process",
        "std::env",
        "std::io::std",
        "std::net::TcpListener",
        "std::net::UdpSocket",
        "std::thread",
        "nix::",
        "rustix::",
        "procfs::",
        "File::open",
    ];
    let mut bad = Vec::new();
    for (file, text) in src("src/analyze") {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for api in IO {
                if code.contains(api) {
                    bad.push(format!("{file}:{}: {api}", n + 1));
                }
            }
        }
    }
    assert!(bad.is_empty(), "analyze does no I/O:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_what_it_must_refuse() {
    let text = "use crate::collect::probe::ProbeResult;\nuse crate::{model, action::Sig};\n\
                // crate::tui in a comment is fine\nlet x = crate::model::Proto::Tcp;\n";
    assert_eq!(
        foreign_crate_paths("f.rs", text, &["model", "analyze"]),
        ["f.rs:1: crate::collect", "f.rs:2: crate::action"]
    );
}

#[test]
fn no_source_file_is_over_500_lines() {
    let mut over = Vec::new();
    let mut fixed = Vec::new();
    let files = src("src");
    for (file, text) in &files {
        let lines = text.lines().count();
        let known = KNOWN_OVER.contains(&file.as_str());
        if lines > MAX_LINES && !known {
            over.push(format!("{file}: {lines} lines"));
        }
        if known && lines <= MAX_LINES {
            fixed.push(file.clone());
        }
    }
    for k in KNOWN_OVER {
        if !files.iter().any(|(f, _)| f == k) {
            fixed.push((*k).to_string());
        }
    }
    assert!(
        over.is_empty(),
        "split these into smaller modules (at most {MAX_LINES} lines):\n{}",
        over.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "no longer over the limit (or gone): delete from KNOWN_OVER in tests/structure.rs: {fixed:?}"
    );
}

/// Every file is read through one of two readers: `kernel_file` for procfs and tracefs (one large
/// first read: the reserved-ports handler answers only at offset 0, and `read_to_string` starts
/// with 32 bytes), and `safefs` for files on disk (no FIFO, no device, a size cap). A plain
/// `std::fs::read`/`read_to_string` in src/ outside tests is one that skipped both.
#[test]
fn files_are_read_through_kernel_file_or_safefs() {
    let mut found = Vec::new();
    for (file, text) in src("src") {
        if file.ends_with("kernel_file.rs") || file.ends_with("tests.rs") {
            continue;
        }
        // Unit tests at the end of a file may read what they wrote.
        let body = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or(&text);
        for (n, line) in body.lines().enumerate() {
            if line.contains("fs::read_to_string(") || line.contains("fs::read(") {
                found.push(format!("{file}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "read these through crate::kernel_file or crate::safefs:\n{}",
        found.join("\n")
    );
}
