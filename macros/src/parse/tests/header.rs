use super::*;

#[test]
fn doc_comments_become_the_description() {
    let src = "/// Look users up by email\n///   without blocking writes.  \n///\npub mod m0002_users_email_index {}";
    let (input, diags) = parse_input(src);
    assert!(diags.is_empty(), "{diags:?}");
    let input = input.unwrap();
    assert_eq!(
        input.doc,
        "Look users up by email\nwithout blocking writes."
    );
    assert!(input.attrs.is_empty());
    assert!(matches!(input.vis, syn::Visibility::Public(_)));
    assert_eq!(input.ident.to_string(), "m0002_users_email_index");
    assert_eq!(input.version, 2);
    assert_eq!(input.name, "users_email_index");
    assert!(input.settings.is_empty() && input.body.is_empty());
}

#[test]
fn other_attributes_and_visibility_are_kept() {
    let src = "#[cfg(test)]\n#[doc = \"one\"]\npub(crate) mod m20261123120000_users {}";
    let (input, diags) = parse_input(src);
    assert!(diags.is_empty(), "{diags:?}");
    let input = input.unwrap();
    assert_eq!(input.attrs.len(), 1);
    assert!(input.attrs[0].path().is_ident("cfg"));
    assert_eq!(input.doc, "one");
    assert!(matches!(input.vis, syn::Visibility::Restricted(_)));
    assert_eq!(input.version, 20261123120000);
    assert_eq!(input.name, "users");
}

#[test]
fn private_module_without_doc() {
    let (input, diags) = parse_input("mod m7_a_b {}");
    assert!(diags.is_empty());
    let input = input.unwrap();
    assert!(matches!(input.vis, syn::Visibility::Inherited));
    assert_eq!(
        (input.version, input.name.as_str(), input.doc.as_str()),
        (7, "a_b", "")
    );
}

#[test]
fn malformed_module_names_are_errors_on_the_name() {
    for name in [
        "users",
        "m_users",
        "m0002",
        "m0002_",
        "x0002_users",
        "mabc_users",
    ] {
        let (input, diags) = parse_input(&format!("pub mod {name} {{}}"));
        assert!(input.is_some(), "a stub can still be emitted for {name}");
        assert_eq!(diags.len(), 1, "{name}: {diags:?}");
        assert_eq!(
            diags[0].msg,
            "migration module names start with `m`, a version number and `_`, e.g. `m0002_add_email_index`"
        );
        assert_eq!(diags[0].start, (1, 8), "{name}");
    }
}

#[test]
fn version_overflow_is_an_error() {
    let (input, diags) = parse_input("pub mod m18446744073709551616_x {}");
    assert!(input.is_some());
    assert_eq!(diags.len(), 1);
    assert!(
        diags[0]
            .msg
            .starts_with("version number `18446744073709551616` is too large"),
        "{}",
        diags[0].msg
    );
    let (input, diags) = parse_input("pub mod m18446744073709551615_x {}");
    assert!(diags.is_empty());
    assert_eq!(input.unwrap().version, u64::MAX);
}

#[test]
fn without_a_module_there_is_no_input() {
    let (input, diags) = parse_input("create index concurrently i on t (a);");
    assert!(input.is_none());
    assert_eq!(diags.len(), 1);
    assert!(
        diags[0].msg.starts_with("expected `mod`"),
        "{}",
        diags[0].msg
    );
    assert_eq!(diags[0].start, (1, 0));

    let (input, diags) = parse_input("pub mod m0001_x;");
    assert!(input.is_none());
    assert!(diags[0].msg.contains("expected `{`"), "{}", diags[0].msg);

    let (input, diags) = parse_input("pub mod m0001_x {} pub mod m0002_y {}");
    assert!(input.is_none());
    assert!(
        diags[0].msg.contains("exactly one `mod`"),
        "{}",
        diags[0].msg
    );
    assert_eq!(diags[0].start, (1, 19));

    let (input, diags) = parse_input("");
    assert!(input.is_none());
    assert_eq!(diags.len(), 1);
}

#[test]
fn header_errors_at_the_end_point_at_the_last_token() {
    let (input, diags) = parse_input("pub mod m0001_x");
    assert!(input.is_none());
    assert_eq!(
        diags[0].msg,
        "expected `{` and the migration's statements after `mod m0001_x`"
    );
    assert_eq!((diags[0].start, diags[0].end), ((1, 8), (1, 15)));
    let (_, diags) = parse_input("/// doc\npub");
    assert!(
        diags[0].msg.starts_with("expected `mod`"),
        "{}",
        diags[0].msg
    );
    assert_eq!(diags[0].start, (2, 0));
}
