zerodown::migration! {
    pub mod m0001_lock_timeout_zero {
        set lock_timeout = 0;

        create index concurrently users_email_idx on users (email);
    }
}

fn main() {}
