zerodown::migration! {
    pub mod m0001_drop_database {
        drop database analytics;
    }
}

fn main() {}
