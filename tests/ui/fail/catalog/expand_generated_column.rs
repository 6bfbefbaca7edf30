zerodown::migrations! {
    pub mod m0001_base {
        create table items (id bigint primary key, price int, doubled int generated always as (price * 2) stored);
    }
    pub mod m0002_widen {
        expand alter table items alter column doubled type bigint from integer;
    }
}

fn main() {}
