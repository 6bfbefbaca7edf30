zerodown::migration! {
    pub mod m0001_backfill_keep_position {
        backfill users set a = 1 keep by (id);
    }
}

fn main() {}
