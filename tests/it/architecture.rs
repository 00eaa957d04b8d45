//! The floor plan, checked on the source: no file under `src/` imports a file that imports
//! it back (directly or round a longer circle), infrastructure never imports a domain, and
//! domains import each other only one way. `cargo test architecture` runs it.
//!
//! An import is any `use crate::…`/`super::…`/`self::…` path (groups expanded) or such a path
//! written inline; it points at the file of the longest module prefix that exists.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Domains: they may use infrastructure and each other (one way), never the top floor.
const DOMAINS: &[&str] = &[
    "academics",
    "students",
    "assessment",
    "attendance",
    "settings",
    "users",
    "notices",
    "promotions",
    "dashboard",
    "chatbot",
];
/// The top floor assembles everything; nothing below may import it.
const TOP: &[&str] = &["app", "cli", "demo", "provision", "workers"];

type Module = Vec<String>;

struct Graph {
    files: BTreeMap<Module, PathBuf>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

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

/// `src/a/b.rs` → `[a, b]`; `src/a/mod.rs` → `[a]`; `src/lib.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Option<(Module, bool)> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts == ["main"] {
        return None;
    }
    let is_root_file = matches!(parts.last().map(String::as_str), Some("mod" | "lib"));
    if is_root_file {
        parts.pop();
    }
    Some((parts, is_root_file))
}

/// The code without comments, strings and char literals (their text is not an import).
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if b[i] == b'r'
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
            && rest[1..].trim_start_matches('#').starts_with('"')
        {
            let hashes = rest[1..].len() - rest[1..].trim_start_matches('#').len();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            i += rest[body..]
                .find(&close)
                .map_or(rest.len(), |e| body + e + close.len());
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && (rest.get(2..3) == Some("'") || rest.starts_with("'\\")) {
            // A char literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            i += rest[1..].find('\'').map_or(1, |e| e + 2);
            out.push_str("' '");
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Expands a use tree (`crate::{a::{self, B}, c}`) into its paths.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut depth = 0;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tree[start..]);
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(open) = part.find('{') {
            let head: Vec<String> = part[..open]
                .split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let inner = &part[open + 1..part.rfind('}').unwrap_or(part.len())];
            let mut p = prefix.to_vec();
            p.extend(head);
            expand(inner, &p, out);
        } else {
            let part = part.split(" as ").next().unwrap_or(part).trim();
            let mut p = prefix.to_vec();
            p.extend(part.split("::").map(|s| s.trim().to_owned()));
            if p.last().is_some_and(|l| l == "self") {
                p.pop();
            }
            out.push(p);
        }
    }
}

fn paths_in(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    // use statements (groups expanded)
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(end) = after.find(';') {
            let tree: String = after[..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            expand(&tree, &[], &mut paths);
        }
    }
    // inline paths: crate::a::b, super::x, self::y
    let words: Vec<char> = code.chars().collect();
    let text: String = words.iter().collect();
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(root) {
            let at = from + at;
            from = at + root.len();
            if text[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            // `crate::a::{…}` opens a use group: its paths come from the use statement.
            if path.ends_with("::") {
                continue;
            }
            let segments: Vec<String> = path
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            // `crate::{` opens a use group: its paths come from the use statement.
            if segments.len() > 1 {
                paths.push(segments);
            }
        }
    }
    paths
}

/// Inline paths that start with `name::` (a child module used without `self::`).
fn bare_paths(code: &str, name: &str) -> Vec<Vec<String>> {
    let needle = format!("{name}::");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(&needle) {
        let at = from + at;
        from = at + needle.len();
        if code[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        {
            continue;
        }
        let path: String = code[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        if path.ends_with("::") {
            continue;
        }
        out.push(
            path.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    out
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let mut files = BTreeMap::new();
    let mut kinds = BTreeMap::new();
    for p in &paths {
        if let Some((m, is_root)) = module_of(&src, p) {
            files.insert(m.clone(), p.clone());
            kinds.insert(m, is_root);
        }
    }
    let mut edges = BTreeMap::new();
    for (module, file) in &files {
        let code = strip(&std::fs::read_to_string(file).unwrap());
        let children: BTreeSet<&str> = files
            .keys()
            .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
            .filter_map(|k| k.last().map(String::as_str))
            .collect();
        let parent: Module = module[..module.len().saturating_sub(1)].to_vec();
        let mut targets = BTreeSet::new();
        let mut paths = paths_in(&code);
        // `api::router()` in a mod.rs names its child without `self::`.
        for child in &children {
            paths.extend(bare_paths(&code, child));
        }
        for path in paths {
            let Some(first) = path.first() else { continue };
            let absolute: Module = match first.as_str() {
                "crate" => path[1..].to_vec(),
                "super" => {
                    let mut base = parent.clone();
                    let mut rest = &path[1..];
                    while rest.first().is_some_and(|s| s == "super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    base.extend(rest.iter().cloned());
                    base
                }
                "self" => module.iter().chain(&path[1..]).cloned().collect(),
                name if children.contains(name) => module.iter().chain(&path).cloned().collect(),
                _ => continue,
            };
            let target = (0..=absolute.len())
                .rev()
                .map(|n| absolute[..n].to_vec())
                .find(|m| files.contains_key(m));
            if let Some(t) = target.filter(|t| t != module) {
                targets.insert(t);
            }
        }
        edges.insert(module.clone(), targets);
    }
    Graph { files, edges }
}

/// Every import circle (strongly connected set of two or more files), as file paths.
fn circles(g: &Graph) -> Vec<Vec<String>> {
    // Tarjan, iterative enough for a few hundred files.
    struct State<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        for w in &s.g.edges[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut circle = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                circle.push(s.g.files[w].display().to_string());
                if w == v {
                    break;
                }
            }
            if circle.len() > 1 {
                circle.sort();
                s.out.push(circle);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.files.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn top_name(m: &Module) -> &str {
    m.first().map_or("lib", String::as_str)
}

#[test]
fn no_file_under_src_imports_a_file_that_imports_it_back() {
    let g = graph();
    assert!(g.files.len() > 50, "read {} files", g.files.len());
    let found = circles(&g);
    assert!(found.is_empty(), "import circles: {found:#?}");
}

#[test]
fn infrastructure_never_imports_a_domain_or_the_top_floor() {
    let g = graph();
    let mut wrong = Vec::new();
    for (from, targets) in &g.edges {
        let floor = top_name(from);
        if DOMAINS.contains(&floor) || TOP.contains(&floor) || floor == "lib" {
            continue;
        }
        for to in targets {
            let t = top_name(to);
            if DOMAINS.contains(&t) || TOP.contains(&t) {
                wrong.push(format!(
                    "{} -> {}",
                    g.files[from].display(),
                    g.files[to].display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "infrastructure importing up: {wrong:#?}");
}

#[test]
fn domains_never_import_the_top_floor() {
    let g = graph();
    let mut wrong = Vec::new();
    for (from, targets) in &g.edges {
        if !DOMAINS.contains(&top_name(from)) {
            continue;
        }
        for to in targets.iter().filter(|t| TOP.contains(&top_name(t))) {
            wrong.push(format!(
                "{} -> {}",
                g.files[from].display(),
                g.files[to].display()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "domains importing the top floor: {wrong:#?}"
    );
}

#[test]
fn the_checker_sees_a_circle_when_there_is_one() {
    // The graph of a made-up pair proves the detector itself works.
    let a: Module = vec!["a".into()];
    let b: Module = vec!["b".into()];
    let g = Graph {
        files: BTreeMap::from([(a.clone(), "a.rs".into()), (b.clone(), "b.rs".into())]),
        edges: BTreeMap::from([
            (a.clone(), BTreeSet::from([b.clone()])),
            (b.clone(), BTreeSet::from([a.clone()])),
        ]),
    };
    assert_eq!(
        circles(&g),
        vec![vec!["a.rs".to_owned(), "b.rs".to_owned()]]
    );
    let mut paths = Vec::new();
    expand("crate::{a::{self, B}, c as d}", &[], &mut paths);
    assert_eq!(
        paths,
        vec![
            vec!["crate", "a"],
            vec!["crate", "a", "B"],
            vec!["crate", "c"]
        ]
    );
    assert!(
        strip("let s = \"crate::x\"; // super::y")
            .find("crate::")
            .is_none()
    );
}

#[test]
fn domains_use_each_other_one_way_only() {
    // Folder-level graph of the domains: settings and academics at the bottom, students on
    // them, assessment on all three; no two domains may need each other.
    let g = graph();
    let mut files = BTreeMap::new();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, targets) in &g.edges {
        let a = top_name(from);
        if !DOMAINS.contains(&a) {
            continue;
        }
        let a_mod: Module = vec![a.to_owned()];
        files.insert(a_mod.clone(), PathBuf::from(format!("src/{a}")));
        let entry = edges.entry(a_mod).or_default();
        for to in targets {
            let b = top_name(to);
            if DOMAINS.contains(&b) && a != b {
                entry.insert(vec![b.to_owned()]);
            }
        }
    }
    for d in DOMAINS {
        let m: Module = vec![(*d).to_owned()];
        files
            .entry(m.clone())
            .or_insert_with(|| PathBuf::from(format!("src/{d}")));
        edges.entry(m).or_default();
    }
    let found = circles(&Graph { files, edges });
    assert!(found.is_empty(), "domains that need each other: {found:#?}");
}
