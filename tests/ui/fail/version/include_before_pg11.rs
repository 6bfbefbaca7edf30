zerodown::migration! {
    pub mod m0001_include_before_pg11 {
        set target_postgres = 10;

        create index concurrently users_email_idx on users (email) include (name, created_at);
    }
}

fn main() {}
