// A plain refresh holds ACCESS EXCLUSIVE on the view while its query runs.
zerodown::migration! {
    pub mod m0001_refresh {
        refresh materialized view order_totals;
    }
}

fn main() {}
