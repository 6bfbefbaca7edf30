zerodown::migration! {
    pub mod m0001_check_without_not_valid {
        raw(reason = "no negative totals") "alter table orders add constraint orders_total_check check (total >= 0)";
    }
}

fn main() {}
