zerodown::migration! {
    pub mod m0001_raw_without_reason {
        raw "update users set flags = 0 where flags is null";
    }
}

fn main() {}
