zerodown::migration! {
    pub mod m0001_unknown_setting {
        set lock_timout = 2s;

        create index concurrently users_email_idx on users (email);
    }
}

fn main() {}
