zerodown::migration! {
    pub mod m0001_lock_timeout_not_below_statement_timeout {
        set lock_timeout = 30s;
        set statement_timeout = 10s;

        create index concurrently users_email_idx on users (email);
    }
}

fn main() {}
