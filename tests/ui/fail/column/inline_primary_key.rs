zerodown::migration! {
    pub mod m0001_inline_primary_key {
        alter table events add column id bigint primary key;
    }
}

fn main() {}
