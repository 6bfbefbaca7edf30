zerodown::migration! {
    pub mod m0001_duration_without_unit {
        set lock_timeout = 2000;

        create index concurrently users_email_idx on users (email);
    }
}

fn main() {}
