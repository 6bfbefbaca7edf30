zerodown::migration! {
    pub mod m0001_target_out_of_range {
        set target_postgres = 9;

        create index concurrently users_email_idx on users (email);
    }
}

fn main() {}
