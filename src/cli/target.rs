//! The database URL: parsed into connect options, and described without its password.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

/// Parses a `postgres://` URL. The error never repeats the URL (it may hold a password).
pub(crate) fn parse(url: &str) -> Result<PgConnectOptions, String> {
    if url.trim().is_empty() {
        return Err("the database URL is empty; pass `--database-url postgres://USER@HOST:PORT/DATABASE` or set `DATABASE_URL`".to_owned());
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("the database URL must start with `postgres://` or `postgresql://`".to_owned());
    }
    PgConnectOptions::from_str(url).map_err(|e| format!("the database URL is invalid: {e}"))
}

/// `postgres://user@host:port/database`, never with a password: what the CLI prints about where it
/// connects.
pub(crate) fn describe(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_owned(),
    };
    let database = options.get_database().unwrap_or(options.get_username());
    format!(
        "postgres://{}@{host}:{}/{database}",
        options.get_username(),
        options.get_port()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_without_the_password() {
        let options = parse("postgres://app:s3cret@db.internal:6432/shop").unwrap();
        let text = describe(&options);
        assert_eq!(text, "postgres://app@db.internal:6432/shop");
        assert!(!text.contains("s3cret"));
    }

    #[test]
    fn rejects_other_schemes_without_echoing_the_url() {
        let e = parse("mysql://root:hunter2@localhost/db").unwrap_err();
        assert!(e.contains("postgres://"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(parse("  ").unwrap_err().contains("DATABASE_URL"));
    }
}
