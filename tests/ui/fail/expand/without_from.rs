zerodown::migration! {
    pub mod m0001_without_from {
        expand alter table users alter column id type bigint;
    }
}

fn main() {}
