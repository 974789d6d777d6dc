//! The dependency rule of ARCHITECTURE.md, kept by a test: the modules of `src/` form
//! layers, and a module names only modules of the layers below its own.
//!
//! The test reads every `crate::...` path in `src/` (in `use` declarations and inline, in
//! tests too, comments and strings aside) and every `super::` path that climbs out of its
//! module, and fails on an arrow that points up or sideways.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, top to bottom. A module may name modules of lower layers only: never a
/// module above it, nor another module of its own layer. A new module gets a place here
/// (the test fails until it has one); a module that must call up defines a small trait the
/// higher one implements (as `store::CommitHook`, implemented by `delivery::handoff`).
const LAYERS: &[&[&str]] = &[
    // Entry points: the server's start-up and the command-line tools.
    &["server", "listen", "import_cli"],
    // The web pages, mounted by the server beside the API.
    &["web"],
    // HTTP: handlers, extractors, the route table and its OpenAPI description.
    &["api"],
    // Features beside labeling that use it (webhooks check their project through it;
    // export reads projects, tasks and annotations through it).
    &["webhooks", "export"],
    // The domain: projects, tasks, annotations, predictions, ML backends, statistics.
    &["labeling"],
    // Organizations, users and tokens.
    &["auth"],
    // The catalogue of actions and the outbox rows.
    &["events"],
    // The dispatcher: handoff, claims, signing, sending, recording.
    &["delivery"],
    // The database.
    &["store"],
    // The vocabulary every layer speaks, and the settings.
    &["shared", "config"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The crate's top-level modules, from `src/lib.rs`.
fn top_modules() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("pub(crate) mod "))
                .or_else(|| line.strip_prefix("mod "))?;
            rest.strip_suffix(';').map(str::to_string)
        })
        .collect()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file: `src/api/extract.rs` → `[api, extract]`,
/// `src/api/mod.rs` → `[api]`.
fn module_path(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The text with comments, strings and character literals blanked (newlines kept, so
/// positions still give line numbers).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"...", r#"..."#.
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
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            out.push_str(&" ".repeat(j + 1 - i));
            i = j + 1;
            while i < chars.len() && !chars[i..].starts_with(&close.chars().collect::<Vec<_>>()) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str(&" ".repeat(close.len().min(chars.len() - i)));
            i += close.len();
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{0}'), or a lifetime ('a) left alone.
            let literal_end = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| i + 2 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match literal_end {
                Some(end) => {
                    out.push_str(&" ".repeat(end + 1 - i));
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first names after `crate::` (or a `super::` chain that reaches the crate root),
/// with their byte offsets: `crate::store::Db` → `store`, `crate::{events, store::Db}` →
/// `events` and `store`.
fn named_from_root(code: &str, path: &[String]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(offset) = code[at..].find("crate::") {
        let start = at + offset;
        at = start + "crate::".len();
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue; // `$crate::`, `labelhook_crate::`...
        }
        roots_after(code, at, &mut found);
    }
    // `super::super::x` from a file nested as deep as the chain is long.
    let mut at = 0;
    while let Some(offset) = code[at..].find("super::") {
        let start = at + offset;
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b':') {
            at = start + 1;
            continue;
        }
        let mut end = start;
        let mut climbs = 0;
        while code[end..].starts_with("super::") {
            climbs += 1;
            end += "super::".len();
        }
        at = end;
        if climbs >= path.len() {
            roots_after(code, end, &mut found);
        }
    }
    found
}

fn roots_after(code: &str, at: usize, found: &mut Vec<(usize, String)>) {
    let rest = &code[at..];
    if let Some(group) = rest.strip_prefix('{') {
        // Top-level items of the group: the first name of each.
        let mut depth = 0;
        let mut item_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && (c.is_alphanumeric() || c == '_') => {
                    found.push((at + 1 + i, ident_at(&group[i..]).to_string()));
                    item_start = false;
                }
                _ => {}
            }
        }
    } else {
        let name = ident_at(rest);
        if !name.is_empty() {
            found.push((at, name.to_string()));
        }
    }
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn every_module_has_a_layer() {
    let unplaced: Vec<String> = top_modules()
        .into_iter()
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules without a place in LAYERS (tests/architecture.rs): {unplaced:?}"
    );
}

#[test]
fn dependencies_point_down() {
    let modules = top_modules();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut edges: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let path = module_path(file);
        let Some(from) = path.first().filter(|m| modules.contains(m)) else {
            continue; // lib.rs and main.rs are the crate's roots
        };
        let text = std::fs::read_to_string(file).expect("read");
        let code = code_only(&text);
        for (offset, to) in named_from_root(&code, &path) {
            if !modules.contains(&to) || &to == from {
                continue; // crate-root items (`crate::VERSION`), or itself
            }
            let line = code[..offset].matches('\n').count() + 1;
            let place = format!(
                "{}:{line}",
                file.strip_prefix(src()).unwrap_or(file).display()
            );
            let (Some(up), Some(down)) = (layer_of(from), layer_of(&to)) else {
                continue; // reported by every_module_has_a_layer
            };
            if down <= up {
                wrong.push(format!("{from} → {to} at src/{place}"));
            }
            edges.entry((from.clone(), to)).or_insert(place);
        }
    }
    assert!(
        edges.len() > 20,
        "too few edges found, is the reader broken? {edges:?}"
    );
    assert!(
        wrong.is_empty(),
        "these names point up or sideways (ARCHITECTURE.md, \"Dependencies point one way\"):\n{}",
        wrong.join("\n")
    );
}

/// The reader itself: what it sees and what it ignores.
#[test]
fn the_reader_finds_paths_and_skips_comments_and_strings() {
    let code = code_only(
        "use crate::{events::{self, Action}, store};\n\
         // crate::api in a comment\n\
         let s = \"crate::web in a string\"; let c = '\"'; let r = r#\"crate::server\"#;\n\
         fn f<'a>(x: &'a str) { crate::labeling::x(); super::super::auth::y(); }\n",
    );
    let names: Vec<String> = named_from_root(&code, &["webhooks".into(), "log".into()])
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    assert_eq!(names, ["events", "store", "labeling", "auth"]);
}
