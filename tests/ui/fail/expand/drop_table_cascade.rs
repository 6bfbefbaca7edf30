zerodown::migration! {
    pub mod m0001_drop_table_cascade {
        expand drop table sessions cascade;
    }
}

fn main() {}
