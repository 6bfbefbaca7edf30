zerodown::migration! {
    pub mod m0001_raw_no_transaction_two_statements {
        raw(reason = "two indexes", no_transaction) "create index concurrently a on t (a); create index concurrently b on t (b)";
    }
}

fn main() {}
