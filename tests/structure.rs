#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)]
//! The shape of the source tree, checked: `analyze` is pure by construction (it reaches only
//! `model` and itself, and no I/O API), `cli` starts the TUI through `tui::run` and reaches
//! nothing else of it, no file in src/ grows past 500 lines, no more functions pass 80, and no
//! two modules of one folder import each other.

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

/// Every `crate::tui::NAME` path in `text`, as (line, NAME); a bare `crate::tui` (a module
/// import that hides what is used after it) is NAME "tui".
fn tui_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::tui") {
            let after = &rest[i + "crate::tui".len()..];
            let names: Vec<String> = match after.strip_prefix("::") {
                Some(list) if list.starts_with('{') => list[1..]
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(|s| s.trim().split("::").next().unwrap_or("").to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
                Some(path) => vec![
                    path.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect(),
                ],
                None if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') => {
                    vec![] // crate::tuition, not crate::tui
                }
                None => vec!["tui".to_string()],
            };
            for name in names {
                found.push((n + 1, name));
            }
            rest = after;
        }
    }
    found
}

/// What the command line may use of the TUI: starting it.
const CLI_REACHES_TUI: &[&str] = &["run", "TuiOptions"];

#[test]
fn cli_reaches_tui_only_through_run() {
    let mut bad = Vec::new();
    for (file, text) in src("src/cli") {
        for (line, name) in tui_paths(&text) {
            if CLI_REACHES_TUI.contains(&name.as_str()) {
                continue;
            }
            bad.push(format!("{file}:{line}: crate::tui::{name}"));
        }
    }
    assert!(
        bad.is_empty(),
        "cli starts the TUI with tui::run(TuiOptions) and reaches nothing else of it (give the \
         TUI's entry what it needs, or move shared code below both):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_tui_checker_sees_what_it_must_refuse() {
    let text = "use crate::tui::human;\nlet o = crate::tui::TuiOptions {\n\
                match crate::tui::run(o) { Ok(crate::tui::runtime::Ending::Quit) => 0 }\n\
                use crate::tui;\nuse crate::tui::{config, keymap::KeyMap};\n// crate::tui::draw\n";
    let names: Vec<(usize, String)> = tui_paths(text);
    let names: Vec<(usize, &str)> = names.iter().map(|(l, n)| (*l, n.as_str())).collect();
    assert_eq!(
        names,
        [
            (1, "human"),
            (2, "TuiOptions"),
            (3, "run"),
            (3, "runtime"),
            (4, "tui"),
            (5, "config"),
            (5, "keymap"),
        ]
    );
}

/// `text` with comments blanked and the insides of string and character literals blanked, line
/// breaks kept: braces that remain are code.
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if !prev_ident && (c[i] == 'r' || (c[i] == 'b' && c.get(i + 1) == Some(&'r'))) && {
            let from = i + if c[i] == 'b' { 2 } else { 1 };
            let hashes = c[from..].iter().take_while(|h| **h == '#').count();
            c.get(from + hashes) == Some(&'"')
        } {
            // A raw string: r"…", r#"…"#, br"…".
            let from = i + if c[i] == 'b' { 2 } else { 1 };
            let hashes = c[from..].iter().take_while(|h| **h == '#').count();
            let body = from + hashes + 1;
            let mut j = body;
            while j < c.len()
                && !(c[j] == '"'
                    && c[j + 1..].iter().take(hashes).all(|h| *h == '#')
                    && c.len() - (j + 1) >= hashes)
            {
                j += 1;
            }
            let end = (j + 1 + hashes).min(c.len());
            for &ch in &c[i..end] {
                out.push(blank(ch));
            }
            i = end;
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' && (c.get(i + 1) == Some(&'\\') || c.get(i + 2) == Some(&'\'')) {
            // A character literal ('{', '\'', '\u{7b}'); a lifetime ('a) has no closing quote.
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '\'' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// Every function with a body in `text`, as (name, first line, lines).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let code: Vec<char> = code_only(text).chars().collect();
    let line_at = |i: usize| code[..i].iter().filter(|c| **c == '\n').count() + 1;
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    for i in 0..code.len().saturating_sub(3) {
        let is_fn = code[i] == 'f'
            && code[i + 1] == 'n'
            && code[i + 2].is_whitespace()
            && (i == 0 || !ident(code[i - 1]));
        if !is_fn {
            continue;
        }
        let mut j = i + 2;
        while j < code.len() && code[j].is_whitespace() {
            j += 1;
        }
        let name: String = code[j..].iter().take_while(|c| ident(**c)).collect();
        if name.is_empty() {
            continue; // a fn pointer type
        }
        // The body starts at the first `{` outside the signature's parentheses and brackets; a
        // `;` there first is a declaration without a body.
        let mut depth = 0i32;
        let mut body = None;
        while j < code.len() {
            match code[j] {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                ';' if depth == 0 => break,
                '{' if depth == 0 => {
                    body = Some(j);
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let Some(start) = body else { continue };
        let mut braces = 0i32;
        let mut end = start;
        for (k, ch) in code.iter().enumerate().skip(start) {
            match ch {
                '{' => braces += 1,
                '}' => braces -= 1,
                _ => {}
            }
            if braces == 0 {
                end = k;
                break;
            }
        }
        let first = line_at(i);
        out.push((name, first, line_at(end) - first + 1));
    }
    out
}

#[test]
fn the_function_measure_counts_lines_of_code_not_braces_in_text() {
    let text = "fn a() {\n    let s = \"}}}\";\n    let c = '}';\n    // }\n    /* } */\n}\n\
                pub fn b<'x>(v: [u8; 2]) -> &'x str\nwhere\n{\n    r#\"}\"#\n}\n\
                fn decl(&self);\nlet f: fn(u8) -> u8 = g;\nfn c() { let x = b'}'; }\n";
    assert_eq!(
        functions(text),
        [
            ("a".to_string(), 1, 6),
            ("b".to_string(), 7, 5),
            ("c".to_string(), 14, 1)
        ]
    );
}

const MAX_FN_LINES: usize = 80;

/// How many functions in src/ are longer than MAX_FN_LINES today (#24 counted 38; views/why.rs
/// `render` was 272). New code stays under the cap: the count may only go down, and when it
/// does, lower it here so it cannot creep back.
const LONG_FUNCTIONS_TODAY: usize = 55;

#[test]
fn functions_stay_under_80_lines() {
    let mut long = Vec::new();
    for (file, text) in src("src") {
        for (name, line, lines) in functions(&text) {
            if lines > MAX_FN_LINES {
                long.push((lines, format!("{file}:{line}: {name} ({lines} lines)")));
            }
        }
    }
    long.sort_by_key(|l| std::cmp::Reverse(l.0));
    let list: Vec<&str> = long.iter().map(|(_, l)| l.as_str()).collect();
    eprintln!(
        "{} functions over {MAX_FN_LINES} lines:\n{}",
        long.len(),
        list.join("\n")
    );
    assert!(
        long.len() <= LONG_FUNCTIONS_TODAY,
        "{} functions over {MAX_FN_LINES} lines, {LONG_FUNCTIONS_TODAY} allowed: split the new \
         one (the longest are listed above)",
        long.len()
    );
    assert!(
        long.len() == LONG_FUNCTIONS_TODAY,
        "{} functions over {MAX_FN_LINES} lines: lower LONG_FUNCTIONS_TODAY in \
         tests/structure.rs to {}",
        long.len(),
        long.len()
    );
}

/// The module path of a file under src/: `src/lib.rs` is the crate, `src/a/mod.rs` and
/// `src/a.rs` are `a`, `src/a/b.rs` is `a::b`.
fn module_path(rel: &str) -> Vec<String> {
    let rel = rel.strip_prefix("src/").unwrap_or(rel);
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// `code` with every `#[cfg(test)]` item blanked: a test module's `use super::*` is its own
/// file, and what tests import does not shape the code.
fn without_tests(code: &str) -> String {
    let mut out: Vec<char> = code.chars().collect();
    let marker: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + marker.len() <= out.len() {
        if out[i..i + marker.len()] != marker[..] {
            i += 1;
            continue;
        }
        let mut j = i + marker.len();
        let mut depth = 0;
        while j < out.len() {
            match out[j] {
                ';' if depth == 0 => break,
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        let end = (j + 1).min(out.len());
        for c in out.iter_mut().take(end).skip(i) {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = j + 1;
    }
    out.into_iter().collect()
}

/// The paths a path expression at `code[i..]` names, `{a, b::c}` groups expanded:
/// `super::{x, y::Z}` is [super, x] and [super, y, Z]. Returns them and where the expression ends.
fn path_tree(code: &[char], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let skip_ws = |mut i: usize| {
        while i < code.len() && code[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let mut prefix = Vec::new();
    loop {
        i = skip_ws(i);
        if code.get(i) == Some(&'{') {
            let mut all = Vec::new();
            i += 1;
            loop {
                i = skip_ws(i);
                match code.get(i) {
                    Some('}') => return (all, i + 1),
                    Some(',') => i += 1,
                    Some(_) => {
                        let (subs, end) = path_tree(code, i);
                        if end == i {
                            return (all, i);
                        }
                        all.extend(subs.into_iter().map(|s| [prefix.clone(), s].concat()));
                        i = end;
                    }
                    None => return (all, i),
                }
            }
        }
        let start = i;
        while i < code.len() && ident(code[i]) {
            i += 1;
        }
        if i == start {
            return (vec![prefix], i);
        }
        prefix.push(code[start..i].iter().collect());
        let after = skip_ws(i);
        if code.get(after) == Some(&':') && code.get(after + 1) == Some(&':') {
            i = after + 2;
        } else {
            return (vec![prefix], i);
        }
    }
}

/// Every module path that `text` (the file of module `module`) names through `crate::`,
/// `super::` or `self::`, made absolute.
fn named_paths(module: &[String], text: &str) -> Vec<Vec<String>> {
    let code: Vec<char> = without_tests(&code_only(text)).chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for i in 0..code.len() {
        if i > 0 && (ident(code[i - 1]) || code[i - 1] == ':') {
            continue;
        }
        let rest: String = code[i..(i + 7).min(code.len())].iter().collect();
        if !["crate::", "super::", "self::"]
            .iter()
            .any(|k| rest.starts_with(k))
        {
            continue;
        }
        for path in path_tree(&code, i).0 {
            let (mut base, segs) = match path.split_first() {
                Some((first, rest)) if first == "crate" => (Vec::new(), rest.to_vec()),
                _ => (module.to_vec(), path.clone()),
            };
            let mut k = 0;
            while k < segs.len() && (segs[k] == "super" || segs[k] == "self") {
                if segs[k] == "super" {
                    base.pop();
                }
                k += 1;
            }
            base.extend_from_slice(&segs[k..]);
            out.push(base);
        }
    }
    out
}

/// Imports between modules of one folder, as (folder, from, to) → the files that import: a
/// file deep inside `a/` that names `b` (a sibling of `a`) is an import of `b` by `a`. A
/// folder's mod.rs is the folder itself, not a sibling of its children, and an item its mod.rs
/// re-exports is the mod.rs's.
fn sibling_imports(
    files: &[(String, String)],
) -> std::collections::BTreeMap<(String, String, String), Vec<String>> {
    let modules: std::collections::HashSet<Vec<String>> =
        files.iter().map(|(f, _)| module_path(f)).collect();
    let mut edges = std::collections::BTreeMap::<_, Vec<String>>::new();
    for (file, text) in files {
        let module = module_path(file);
        for to in named_paths(&module, text) {
            let c = module.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if c < module.len() && c < to.len() && modules.contains(&to[..=c]) {
                let key = (to[..c].join("/"), module[c].clone(), to[c].clone());
                let list = edges.entry(key).or_default();
                if !list.contains(file) {
                    list.push(file.clone());
                }
            }
        }
    }
    edges
}

/// Pairs of modules in one folder that import each other, as "folder: a <-> b (files)".
fn sibling_cycles(files: &[(String, String)]) -> Vec<String> {
    let edges = sibling_imports(files);
    let mut cycles = Vec::new();
    for ((folder, a, b), from_a) in &edges {
        if a < b
            && let Some(from_b) = edges.get(&(folder.clone(), b.clone(), a.clone()))
        {
            cycles.push(format!(
                "src/{folder}: {a} <-> {b} ({} / {})",
                from_a.join(", "),
                from_b.join(", ")
            ));
        }
    }
    cycles
}

/// The 500-line cap invites splitting a file in two that then import each other (#24 counted
/// nine such pairs): a seam in the wrong place. Two modules of one folder may not import each
/// other; what both need goes into a third module below both (a folder's mod.rs and its
/// children may: the children are its parts).
#[test]
fn no_two_modules_in_one_folder_import_each_other() {
    let files: Vec<(String, String)> = src("src")
        .into_iter()
        .filter(|(f, _)| {
            // Test modules (tests.rs, x_tests.rs) are the tests of the file beside them.
            !f.ends_with("tests.rs") && f != "src/main.rs"
        })
        .collect();
    let cycles = sibling_cycles(&files);
    assert!(
        cycles.is_empty(),
        "these modules import each other: move what both use into a module of its own, or make \
         the pair a folder whose mod.rs is the one they share:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_cycle_checker_sees_what_it_must_refuse() {
    let file = |name: &str, text: &str| (name.to_string(), text.to_string());
    let files = [
        file("src/lib.rs", "pub mod a;\n"),
        file(
            "src/a/mod.rs",
            "mod x;\nmod y;\nmod z;\nmod d;\nuse x::X;\n",
        ),
        // x and y: a sibling cycle, one side through a group and a nested path.
        file("src/a/x.rs", "use super::{Shared, y::{self, Y}};\n"),
        file("src/a/y.rs", "fn f() { crate::a::x::X::new() }\n"),
        // z names x, the mod.rs and itself only; x never names z.
        file(
            "src/a/z.rs",
            "use super::x::X;\nuse super::Shared;\nuse self::q;\n",
        ),
        // A file deep in folder d that names z, and z's test naming d: no cycle.
        file("src/a/d/mod.rs", "mod e;\n"),
        file(
            "src/a/d/e.rs",
            "use super::super::z;\n// crate::a::x in a comment\nlet s = \"crate::a::y\";\n",
        ),
        file(
            "src/a/w.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::a::d::e;\n}\n",
        ),
    ];
    assert_eq!(
        sibling_cycles(&files),
        ["src/a: x <-> y (src/a/x.rs / src/a/y.rs)"]
    );
    let edges: Vec<String> = sibling_imports(&files)
        .keys()
        .map(|(f, a, b)| format!("{f}: {a} -> {b}"))
        .collect();
    assert_eq!(edges, ["a: d -> z", "a: x -> y", "a: y -> x", "a: z -> x"]);
}
