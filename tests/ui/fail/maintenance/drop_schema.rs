zerodown::migration! {
    pub mod m0001_drop_schema {
        drop schema legacy cascade;
    }
}

fn main() {}
