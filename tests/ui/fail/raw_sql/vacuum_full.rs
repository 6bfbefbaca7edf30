zerodown::migration! {
    pub mod m0001_vacuum_full {
        raw(reason = "reclaim space", no_transaction) "vacuum (full, analyze) events";
    }
}

fn main() {}
