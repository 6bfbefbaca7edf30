zerodown::migration! {
    pub mod m0001_drop_table {
        drop table sessions;
    }
}

fn main() {}
