//! The Markdown docs stay in step with the code: every rule has a section in `docs/rules.md`, every
//! link between pages points at a page and heading that exist, and the rustdoc copies of the pages
//! (`src/docs.rs`) define every cross-page link label the pages use.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The anchor GitHub and rustdoc give a heading: lowercase, spaces to `-`, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings, outside code blocks.
fn anchors(page: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in page.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// Reference-style link labels used in `page` (`][rules.md#x]`), with their definitions' presence.
fn labels_used(page: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = page;
    while let Some(at) = rest.find("][") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(']') {
            let label = &rest[..end];
            if label.contains(".md") {
                out.insert(label.to_owned());
            }
        }
    }
    out
}

const PAGES: &[&str] = &["dsl", "rules", "deploying", "pgbouncer", "cli", "failures"];

#[test]
fn every_rule_has_a_section() {
    let rules_rs = read("macros/src/rules.rs");
    let names: Vec<&str> = rules_rs
        .lines()
        .filter_map(|l| {
            l.trim()
                .split_once("=> \"")
                .map(|(_, rest)| rest.trim_end_matches("\","))
        })
        .collect();
    assert!(
        names.len() > 20,
        "rule names not found in macros/src/rules.rs: {names:?}"
    );
    let page = read("docs/rules.md");
    let anchors = anchors(&page);
    for name in &names {
        assert!(
            anchors.contains(*name),
            "docs/rules.md has no `### {name}` section"
        );
        assert!(
            page.contains(&format!("[`{name}`](#{name})")),
            "the table of docs/rules.md does not list `{name}`"
        );
    }
}

#[test]
fn links_between_pages_resolve() {
    let rustdoc_links = read("src/docs.rs");
    for name in PAGES {
        let page = read(&format!("docs/{name}.md"));
        for label in labels_used(&page) {
            let (file, anchor) = label.split_once('#').unwrap_or((&label, ""));
            let target = file
                .strip_suffix(".md")
                .unwrap_or_else(|| panic!("docs/{name}.md: label `{label}`"));
            assert!(
                PAGES.contains(&target),
                "docs/{name}.md links to a missing page `{file}`"
            );
            if !anchor.is_empty() {
                let headings = anchors(&read(&format!("docs/{file}")));
                assert!(
                    headings.contains(anchor),
                    "docs/{name}.md links to `{label}`, but docs/{file} has no such heading"
                );
            }
            assert!(
                page.contains(&format!("\n[{label}]: {label}\n")),
                "docs/{name}.md uses `[{label}]` without defining it at the bottom"
            );
            assert!(
                rustdoc_links.contains(&format!("[{label}]: crate::docs::")),
                "src/docs.rs does not define the label `[{label}]` used in docs/{name}.md"
            );
        }
    }
}

#[test]
fn readme_links_to_the_docs() {
    let readme = read("README.md");
    for name in PAGES {
        assert!(
            readme.contains(&format!("(docs/{name}.md")),
            "README.md does not link docs/{name}.md"
        );
    }
}
