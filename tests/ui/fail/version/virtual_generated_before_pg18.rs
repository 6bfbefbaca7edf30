// Virtual generated columns exist from PostgreSQL 18.
zerodown::migration! {
    pub mod m0001_virtual {
        set target_postgres = 17;
        alter table items add column double_price numeric generated always as (price * 2) virtual;
    }
}

fn main() {}
