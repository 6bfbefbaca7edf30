zerodown::migration! {
    pub mod m0001_include_before_pg11 {
        set target_postgres = 10;
        raw(reason = "covering index", no_transaction) "create index concurrently orders_user_idx on orders (user_id) include (total)";
    }
}

fn main() {}
