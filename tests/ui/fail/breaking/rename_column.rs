zerodown::migration! {
    pub mod m0001_rename_column {
        alter table users rename column email to email_address;
    }
}

fn main() {}
