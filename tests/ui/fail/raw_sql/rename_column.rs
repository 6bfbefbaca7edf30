zerodown::migration! {
    pub mod m0001_rename_column {
        raw(reason = "clearer name") "alter table users rename column mail to email";
    }
}

fn main() {}
