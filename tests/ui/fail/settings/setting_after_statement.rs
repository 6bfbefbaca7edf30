zerodown::migration! {
    pub mod m0001_setting_after_statement {
        create index concurrently users_email_idx on users (email);
        set lock_timeout = 2s;
    }
}

fn main() {}
