zerodown::migration! {
    pub mod m0001_rename_table {
        alter table users rename to accounts;
    }
}

fn main() {}
