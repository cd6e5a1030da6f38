//! The core's modules form a tower (the list in src/lib.rs): each module uses only
//! modules on floors below its own. A use of a sibling or of a module above is how a
//! cycle starts, so this test names it before it becomes one. Reads the sources only.

use std::collections::BTreeSet;
use std::path::Path;

/// Top to bottom; modules on one floor are siblings and never use each other.
const FLOORS: &[&[&str]] = &[
    &["dispatch"],
    &["items", "levels", "reservations", "movements", "reconcile"],
    &["service"],
    &["args"],
    &["reserver"],
    &["reservation_engine"],
    &["stock"],
    &["idempotency"],
    &["ledger", "pipeline"],
    &["write"],
    &["input", "outcome", "migrate"],
    &["sql"],
    &["entity"],
    &["quantity", "limits", "connection"],
    &["hosts", "relay", "error"],
    &["wire"],
];

fn floor(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

/// The crate modules a source file uses, outside its `#[cfg(test)]` module and comments.
fn uses(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    let mut found = BTreeSet::new();
    for line in code.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a::X, b}`: every path in the braces (one line).
                let inner = group.split('}').next().unwrap_or("");
                for path in inner.split(',') {
                    found.insert(module_of(path.trim()));
                }
            } else {
                found.insert(module_of(rest));
            }
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

fn module_of(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
        .collect()
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    let mut listed = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" {
            continue;
        }
        let Some(own) = floor(&name) else {
            wrong.push(format!(
                "{name}.rs is on no floor: add it to FLOORS and lib.rs's list"
            ));
            continue;
        };
        listed.insert(name.clone());
        let text = std::fs::read_to_string(&path).unwrap();
        for used in uses(&text) {
            if used == name {
                continue;
            }
            match floor(&used) {
                Some(f) if f > own => {}
                _ => wrong.push(format!("{name} uses {used}, which is not below it")),
            }
        }
    }
    for module in FLOORS.iter().flat_map(|f| f.iter()) {
        if !listed.contains(*module) {
            wrong.push(format!("FLOORS names {module}, which has no file"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_reader_sees_grouped_and_plain_uses() {
    let text = "use crate::{ledger::Audit, sql::Params};\nuse crate::error::Error;\n// crate::levels in a comment\n";
    let got: Vec<_> = uses(text).into_iter().collect();
    assert_eq!(got, ["error", "ledger", "sql"]);
}
