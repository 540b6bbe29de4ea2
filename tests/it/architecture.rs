//! Fitness test for the shape of `src/` (see ARCHITECTURE.md): modules import only downward in
//! the layer order below, egui lives only in `src/ui`, only `src/cli` prints, no panel imports
//! the app module, and the app module stays thin.
//!
//! The checker reads the source as text (comments and string literals removed), so it needs no
//! build and runs in milliseconds. Its own tests feed it small trees with each violation.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use modules of lower layers only; modules of the same
/// layer do not use each other. A new top-level module must be given a layer here (and in
/// ARCHITECTURE.md) before the test passes.
const LAYERS: &[&[&str]] = &[
    // What differs between the operating systems, and the SHA-256 digest type: no other
    // module of the crate.
    &["os", "digest"],
    // Leaves above it. `runner` is the task engine and knows no workspace;
    // `runbook` is runbooks and checklists as data.
    &["net", "store", "runner", "runbook"],
    &["audit"],
    &["workspace"],
    // Domain services over one workspace.
    &["kpi", "remote", "source", "verify"],
    // Features that combine them, each with its providers.
    &[
        "demo", "dr", "findings", "flags", "pipeline", "rotation", "status",
    ],
    // What stands between a release and publishing, over all of them.
    &["gates", "metrics", "notify"],
    // Publishing, which obeys the gates.
    &["deploy"],
    // The state files the log speaks for, over the features, the outbox and publishing.
    &["projections"],
    // The window. It never imports the CLI.
    &["ui"],
    // The command line: every subcommand, and the GUI's frame benchmark (`bench`).
    &["cli"],
    // The binary.
    &["main"],
];

/// Most lines `src/ui/app.rs` may have.
const APP_MAX_LINES: usize = 300;

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// One source file: its path under `src/`, its module path, and its code without comments and
/// string contents.
struct Source {
    rel: String,
    module: Vec<String>,
    code: String,
}

/// Removes comments and the contents of string and char literals, keeping line breaks so that
/// line numbers still match.
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let keep_newlines = |out: &mut String, s: &[char]| {
        for c in s {
            if *c == '\n' {
                out.push('\n');
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = i;
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            keep_newlines(&mut out, &chars[start..i.min(chars.len())]);
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
        {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let start = j;
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            keep_newlines(&mut out, &chars[start..j.min(chars.len())]);
            i = j;
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
            keep_newlines(&mut out, &chars[start..i.min(chars.len())]);
        } else if c == '\'' {
            // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn read_tree(src: &Path) -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let mut module: Vec<String> = rel
                .trim_end_matches(".rs")
                .split('/')
                .map(str::to_owned)
                .collect();
            if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            Source {
                rel,
                module,
                code: strip(&text),
            }
        })
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifiers that follow `prefix` at `at`: one (`crate::audit`), or the first segment of
/// each item of a group (`crate::{audit::X, workspace}`).
fn heads(code: &str, at: usize) -> Vec<String> {
    let rest = code[at..].trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut out = Vec::new();
        let mut depth = 0;
        let mut item = String::new();
        let mut take = true;
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    if !item.is_empty() {
                        out.push(std::mem::take(&mut item));
                    }
                    take = true;
                    continue;
                }
                _ => {}
            }
            if depth == 0 && take {
                if is_ident(c) {
                    item.push(c);
                } else if !c.is_whitespace() || !item.is_empty() {
                    take = false;
                }
            }
        }
        if !item.is_empty() {
            out.push(item);
        }
        out
    } else {
        vec![rest.chars().take_while(|c| is_ident(*c)).collect()]
    }
}

fn line_of(code: &str, at: usize) -> usize {
    code[..at].matches('\n').count() + 1
}

/// Every top-level module this file uses, with the line: through `crate::`, `super::` that
/// climbs to the crate root, and `release_console::` (the binary).
fn uses(source: &Source, modules: &BTreeSet<String>) -> Vec<(String, usize)> {
    let code = &source.code;
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let boundary = i == 0 || !is_ident(bytes[i - 1] as char) && bytes[i - 1] != b':';
        let mut depth_from_root = None;
        let mut skip = 0;
        if boundary && code[i..].starts_with("crate::") {
            skip = "crate::".len();
            depth_from_root = Some(0);
        } else if boundary && code[i..].starts_with("release_console::") {
            skip = "release_console::".len();
            depth_from_root = Some(0);
        } else if boundary && code[i..].starts_with("super::") {
            let mut levels = 0;
            while code[i + skip..].starts_with("super::") {
                skip += "super::".len();
                levels += 1;
            }
            // `super` from module path a::b is a; from a it is the root.
            if levels >= source.module.len() {
                depth_from_root = Some(0);
            }
        }
        if let Some(0) = depth_from_root {
            for head in heads(code, i + skip) {
                if modules.contains(&head) {
                    out.push((head, line_of(code, i)));
                }
            }
        }
        i += skip.max(1);
        while i < code.len() && !code.is_char_boundary(i) {
            i += 1;
        }
    }
    out
}

/// Every rule broken in the tree under `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    let sources = read_tree(src);
    let modules: BTreeSet<String> = sources
        .iter()
        .filter_map(|s| s.module.first().cloned())
        .collect();
    let mut out = Vec::new();
    for m in &modules {
        if layer_of(m).is_none() {
            out.push(format!(
                "src/{m}: module `{m}` has no layer; give it one in tests/it/architecture.rs and ARCHITECTURE.md"
            ));
        }
    }
    for s in &sources {
        let Some(top) = s.module.first() else {
            continue; // lib.rs: the crate root's helpers may be used by anyone.
        };
        let Some(layer) = layer_of(top) else { continue };
        for (used, line) in uses(s, &modules) {
            if &used == top {
                continue;
            }
            let Some(used_layer) = layer_of(&used) else {
                continue;
            };
            if used_layer >= layer {
                let how = if used_layer == layer {
                    "a module of the same layer"
                } else {
                    "a module of a higher layer"
                };
                out.push(format!(
                    "src/{}:{line}: `{top}` uses `{used}`, {how} (layers: see ARCHITECTURE.md)",
                    s.rel
                ));
            }
        }
        let in_ui = top == "ui";
        let in_cli = top == "cli";
        for (n, line) in s.code.lines().enumerate() {
            let words: Vec<&str> = line
                .split(|c: char| !is_ident(c))
                .filter(|w| !w.is_empty())
                .collect();
            if !in_ui
                && let Some(w) = words.iter().find(|w| {
                    matches!(
                        **w,
                        "egui" | "eframe" | "egui_extras" | "egui_plot" | "egui_kittest"
                    )
                })
            {
                out.push(format!(
                    "src/{}:{}: `{w}` outside src/ui (only the UI knows egui)",
                    s.rel,
                    n + 1
                ));
            }
            if !in_cli {
                let prints = ["println!", "print!", "eprintln!", "eprint!", "dbg!"]
                    .iter()
                    .find(|m| {
                        line.match_indices(**m).any(|(at, _)| {
                            at == 0 || !is_ident(line[..at].chars().last().unwrap_or(' '))
                        })
                    })
                    .copied()
                    .or_else(|| {
                        ["io::stdout", "io::stderr"]
                            .into_iter()
                            .find(|p| line.contains(p))
                    });
                if let Some(p) = prints {
                    out.push(format!(
                        "src/{}:{}: `{p}` outside src/cli (only the CLI prints)",
                        s.rel,
                        n + 1
                    ));
                }
            }
        }
        let is_app = s.module.get(1).is_some_and(|m| m == "app");
        if in_ui && !is_app {
            for pattern in ["super::app", "crate::ui::app", "ui::app::"] {
                if let Some(at) = s.code.find(pattern) {
                    out.push(format!(
                        "src/{}:{}: a panel imports the app module; use ui::command and ui::snapshot",
                        s.rel,
                        line_of(&s.code, at)
                    ));
                }
            }
        }
        if s.rel == "ui/app.rs" {
            let lines = std::fs::read_to_string(src.join(&s.rel)).map_or(0, |t| t.lines().count());
            if lines > APP_MAX_LINES {
                out.push(format!(
                    "src/ui/app.rs: {lines} lines; the app loop stays at {APP_MAX_LINES} or fewer (move work into panels or command handling)"
                ));
            }
        }
    }
    out
}

#[test]
fn src_follows_the_architecture() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "{} architecture violation(s):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// A small tree in a temp folder: (path under src, text).
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

const CLEAN: &[(&str, &str)] = &[
    (
        "lib.rs",
        "pub mod audit;\npub mod workspace;\npub mod cli;\npub mod ui;\npub fn hex() {}\n",
    ),
    (
        "audit/mod.rs",
        "use crate::store::write;\npub fn a() { crate::hex(); }\n",
    ),
    ("store.rs", "pub fn write() {}\n"),
    (
        "workspace/mod.rs",
        "pub mod config;\nuse crate::{audit::a, store};\n// crate::ui::x in a comment\nconst S: &str = \"crate::cli println!(x)\";\n",
    ),
    (
        "workspace/config.rs",
        "use super::super::audit::a;\nuse super::Thing;\n",
    ),
    (
        "cli/mod.rs",
        "use crate::workspace;\nfn f() { println!(\"hi\"); }\n",
    ),
    ("ui/mod.rs", "pub mod app;\nmod panel;\nuse egui::Ui;\n"),
    ("ui/app.rs", "use super::panel;\n"),
    (
        "ui/panel.rs",
        "use super::command::Command;\nuse crate::workspace::Workspace;\n",
    ),
];

fn with(extra: &[(&str, &str)]) -> Vec<String> {
    let mut files: Vec<(&str, &str)> = CLEAN
        .iter()
        .filter(|(p, _)| !extra.iter().any(|(q, _)| q == p))
        .copied()
        .collect();
    files.extend_from_slice(extra);
    let dir = tree(&files);
    violations(dir.path())
}

#[test]
fn the_checker_accepts_a_clean_tree() {
    assert_eq!(with(&[]), Vec::<String>::new());
}

#[test]
fn the_checker_catches_a_back_import() {
    let found = with(&[(
        "audit/mod.rs",
        "use crate::store::write;\nuse crate::workspace::Workspace;\n",
    )]);
    assert_eq!(
        found,
        vec![
            "src/audit/mod.rs:2: `audit` uses `workspace`, a module of a higher layer (layers: see ARCHITECTURE.md)"
        ]
    );
    // Through a group, and through `super::` climbing to the root.
    let found = with(&[(
        "workspace/config.rs",
        "use crate::{store::x, ui::Panel};\nfn f() { super::super::cli::run(); }\n",
    )]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("src/workspace/config.rs:1: `workspace` uses `ui`"));
    assert!(found[1].contains("src/workspace/config.rs:2: `workspace` uses `cli`"));
}

#[test]
fn the_checker_catches_egui_outside_the_ui_and_prints_outside_the_cli() {
    let found = with(&[(
        "workspace/mod.rs",
        "fn f(ui: &mut egui::Ui) {\n    eprintln!(\"x\");\n    let _ = std::io::stdout();\n}\n",
    )]);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].contains("src/workspace/mod.rs:1: `egui` outside src/ui"));
    assert!(found[1].contains("src/workspace/mod.rs:2: `eprintln!` outside src/cli"));
    assert!(found[2].contains("src/workspace/mod.rs:3: `io::stdout` outside src/cli"));
}

#[test]
fn the_checker_catches_a_panel_importing_the_app_and_an_unplaced_module() {
    let found = with(&[
        ("ui/panel.rs", "use super::app::ConsoleApp;\n"),
        ("buildkite/mod.rs", "use crate::workspace;\n"),
    ]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("src/buildkite: module `buildkite` has no layer"));
    assert!(found[1].starts_with("src/ui/panel.rs:1: a panel imports the app module"));
}

#[test]
fn the_checker_catches_a_fat_app_module() {
    let fat = "fn f() {}\n".repeat(APP_MAX_LINES + 1);
    let found = with(&[("ui/app.rs", &fat)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("src/ui/app.rs: 301 lines"));
}

#[test]
fn strip_keeps_code_and_line_numbers() {
    let text = "let a = \"crate::ui\"; // crate::cli\n/* crate::x\n */ let b = r#\"egui\"#;\nlet c = '\"'; fn f<'a>() {}\n";
    let code = strip(text);
    assert_eq!(code.lines().count(), text.lines().count());
    assert!(!code.contains("crate::"), "{code}");
    assert!(!code.contains("egui"), "{code}");
    assert!(code.contains("fn f<'a>()"), "{code}");
}
