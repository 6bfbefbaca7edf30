zerodown::migration! {
    pub mod m0001_missing_semicolon {
        create index concurrently users_email_idx on users (email)
        create index concurrently users_name_idx on users (name);
    }
}

fn main() {}
