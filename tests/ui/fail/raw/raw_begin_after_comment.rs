zerodown::migration! {
    pub mod m0001_raw_begin_after_comment {
        raw(reason = "backfill flags") "-- one batch\n/* all rows */ BEGIN; update users set flags = 0";
    }
}

fn main() {}
