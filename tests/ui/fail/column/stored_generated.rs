zerodown::migration! {
    pub mod m0001_stored_generated {
        alter table orders add column total numeric generated always as (price * quantity) stored;
    }
}

fn main() {}
