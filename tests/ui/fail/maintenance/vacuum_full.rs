zerodown::migration! {
    pub mod m0001_vacuum_full {
        vacuum full users;
    }
}

fn main() {}
