zerodown::migration! {
    pub mod m0001_virtual_generated_create_table_before_pg18 {
        set target_postgres = 17;
        raw(reason = "derived column") "create table prices (amount numeric, cents bigint generated always as (amount * 100))";
    }
}

fn main() {}
