//! Just enough URL handling to redact passwords and point a URL at another database, on the raw
//! string so that unusual but valid URLs (unix sockets in `?host=`, TLS parameters) survive as they are.

/// What replaces a password.
const MASK: &str = "***";

/// Where the parts of `scheme://authority/path?query#fragment` start and end.
struct Parts {
    /// End of the authority (`user:password@host:port`), i.e. start of the path.
    authority: (usize, usize),
    /// End of the path (start of `?query` or `#fragment`, or the end).
    path_end: usize,
    /// End of the query (start of `#fragment`, or the end).
    query_end: usize,
}

fn split(url: &str) -> Option<Parts> {
    let start = url.find("://")? + 3;
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let path_end = url[authority_end..]
        .find(['?', '#'])
        .map_or(url.len(), |i| authority_end + i);
    let query_end = url[path_end..]
        .find('#')
        .map_or(url.len(), |i| path_end + i);
    Some(Parts {
        authority: (start, authority_end),
        path_end,
        query_end,
    })
}

fn is_password_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("password")
}

/// `url` with any password (in the user info or a `password=` parameter) replaced by `***`.
///
/// Something that is not a URL is replaced as a whole: it could be a key/value string with a password.
pub(crate) fn redact(url: &str) -> String {
    let Some(parts) = split(url) else {
        return "<not a URL>".to_owned();
    };
    let (start, end) = parts.authority;
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..start]);
    let authority = &url[start..end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..=colon]);
                    out.push_str(MASK);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    out.push_str(&url[end..parts.path_end]);
    if parts.path_end < parts.query_end {
        // The query: `?` then `&`-separated pairs.
        out.push('?');
        let query = &url[parts.path_end + 1..parts.query_end];
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_password_key(key) => format!("{key}={MASK}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out.push_str(&url[parts.query_end..]);
    out
}

/// `url` pointing at database `name` (a name made of `[a-z0-9_]`, so it needs no escaping); a
/// `dbname=` parameter, which would win over the path, is removed.
pub(crate) fn with_database(url: &str, name: &str) -> Option<String> {
    let parts = split(url)?;
    let mut out = String::with_capacity(url.len() + name.len());
    out.push_str(&url[..parts.authority.1]);
    out.push('/');
    out.push_str(name);
    if parts.path_end < parts.query_end {
        let query = &url[parts.path_end + 1..parts.query_end];
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.split_once('=').is_some_and(|(key, _)| key == "dbname"))
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out.push_str(&url[parts.query_end..]);
    Some(out)
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for user names and passwords.
pub(crate) fn encode(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    for byte in component.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_password() {
        assert_eq!(
            redact("postgres://u:s3cret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h"), "postgres://h");
    }

    #[test]
    fn redacts_password_parameter() {
        assert_eq!(
            redact("postgres:///db?user=u&password=s3cret&sslmode=disable#x"),
            "postgres:///db?user=u&password=***&sslmode=disable#x"
        );
    }

    #[test]
    fn redacts_what_is_not_a_url() {
        assert_eq!(redact("host=h password=s3cret"), "<not a URL>");
    }

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            with_database("postgres://u:p@h:1/app?sslmode=disable", "zd_x").as_deref(),
            Some("postgres://u:p@h:1/zd_x?sslmode=disable")
        );
        assert_eq!(
            with_database("postgres://h", "zd_x").as_deref(),
            Some("postgres://h/zd_x")
        );
        assert_eq!(
            with_database("postgres://h/?dbname=app&host=/tmp", "zd_x").as_deref(),
            Some("postgres://h/zd_x?host=/tmp")
        );
        assert_eq!(with_database("not a url", "zd_x"), None);
    }

    #[test]
    fn encodes_components() {
        assert_eq!(encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
        assert_eq!(encode("postgres"), "postgres");
    }
}
