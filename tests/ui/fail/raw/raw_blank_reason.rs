zerodown::migration! {
    pub mod m0001_raw_blank_reason {
        raw(reason = "  ") "update users set flags = 0 where flags is null";
    }
}

fn main() {}
