//! Whole migrations as users write them (the accepted-forms corpus, `tests/corpus/accepted_forms.rs`,
//! shared with the lowering's and the server's tests): every statement parses, with no error.

use super::*;

fn parses_cleanly(src: &str) -> MigrationInput {
    let (input, diags) = parse_input(src);
    assert!(diags.is_empty(), "unexpected errors: {diags:#?}");
    input.expect("parsed")
}

#[test]
fn create_schema() {
    let input = parses_cleanly(&crate::test_corpus::migration("m0001_create_schema"));
    assert_eq!((input.version, input.name.as_str()), (1, "create_schema"));
    assert_eq!(input.settings.len(), 3);
    assert_eq!(input.body.len(), 15);
}

#[test]
fn online_changes() {
    let input = parses_cleanly(&crate::test_corpus::migration("m0002_online_changes"));
    assert_eq!(input.body.len(), 26);
    let Item::Stmt(last) = input.body.last().unwrap() else {
        panic!()
    };
    let StmtKind::Raw(raw) = &last.kind else {
        panic!()
    };
    assert_eq!(
        raw.sql.value,
        "insert into accounts (name) values ('seed; ''quoted'' $$ \\ ')"
    );
}

#[test]
fn overrides() {
    let input = parses_cleanly(&crate::test_corpus::migration("m0003_overrides"));
    assert_eq!(input.body.len(), 2);
    assert!(input
        .body
        .iter()
        .all(|i| matches!(i, Item::Unsafe(u) if u.body.len() == 1 && u.reason.is_some())));
}
