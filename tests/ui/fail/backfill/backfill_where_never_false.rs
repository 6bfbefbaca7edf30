zerodown::migration! {
    pub mod m0001_backfill_where_never_false {
        backfill users set token = gen_random_uuid() where created_at < "2024-01-01";
    }
}

fn main() {}
