//! The README is the front page on GitHub, on crates.io and (included by `lib.rs`) on docs.rs.
//! These tests parse it as those sites do, with GitHub's table rules, and check what breaks
//! silently there: a table row that splits into more cells than its header (a `|` inside a code
//! span must be written `\|`), and a link that only rustdoc can resolve.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

const README: &str = include_str!("../README.md");

fn events() -> impl Iterator<Item = Event<'static>> {
    Parser::new_ext(README, Options::ENABLE_TABLES)
}

#[test]
fn every_table_row_has_as_many_cells_as_its_header() {
    let mut tables = 0;
    let mut header_cells = 0;
    let mut cells = 0;
    let mut row_text = String::new();
    let mut in_head = false;
    for event in events() {
        match event {
            Event::Start(Tag::Table(columns)) => {
                tables += 1;
                header_cells = columns.len();
            }
            Event::Start(Tag::TableHead) => {
                in_head = true;
                cells = 0;
            }
            Event::End(TagEnd::TableHead) => {
                in_head = false;
                assert_eq!(cells, header_cells, "a header row of table {tables}");
            }
            Event::Start(Tag::TableRow) => {
                cells = 0;
                row_text.clear();
            }
            Event::End(TagEnd::TableRow) => {
                assert!(!in_head);
                assert_eq!(
                    cells, header_cells,
                    "table {tables}: a row has {cells} cells, its header {header_cells}: \
                     {row_text:?}"
                );
            }
            Event::Start(Tag::TableCell) => cells += 1,
            Event::Text(text) | Event::Code(text) => row_text.push_str(&text),
            _ => {}
        }
    }
    assert!(
        tables >= 3,
        "the README's tables were not parsed as tables ({tables})"
    );
}

/// Whether a link target is a Rust path (`StreamzExt::batch`, `Clock`), which rustdoc resolves
/// and every other renderer turns into a broken relative link.
fn is_rust_path(target: &str) -> bool {
    let segments: Vec<&str> = target.split("::").collect();
    segments.iter().all(|segment| {
        let mut chars = segment.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[test]
fn the_rust_path_check_tells_paths_from_addresses() {
    assert!(is_rust_path("StreamzExt::batch"));
    assert!(is_rust_path("Clock"));
    assert!(!is_rust_path("https://docs.rs/streamz"));
    assert!(!is_rust_path("#timing-precision"));
    assert!(!is_rust_path("LICENSE-MIT"));
}

#[test]
fn every_link_works_outside_rustdoc() {
    let mut links = 0;
    for event in events() {
        if let Event::Start(Tag::Link {
            link_type,
            dest_url,
            ..
        }) = event
        {
            links += 1;
            let target = dest_url.as_ref();
            assert!(!is_rust_path(target), "a rustdoc-only link: {target}");
            // What remains must be an address or an anchor on the page: a relative file link
            // breaks in rustdoc, and on crates.io without a repository.
            assert!(
                target.starts_with("https://") || target.starts_with('#'),
                "a relative link: {target} ({link_type:?})"
            );
            assert_ne!(link_type, LinkType::Email, "{target}");
        }
    }
    assert!(links >= 10, "only {links} links found");
}
