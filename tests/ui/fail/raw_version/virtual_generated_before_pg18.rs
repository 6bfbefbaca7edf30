zerodown::migration! {
    pub mod m0001_virtual_generated_before_pg18 {
        set target_postgres = 17;
        raw(reason = "derived column") "alter table orders add column total_cents bigint generated always as (total * 100) virtual";
    }
}

fn main() {}
