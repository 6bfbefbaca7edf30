zerodown::migration! {
    pub mod m0001_drop_column {
        alter table users drop column legacy_flag;
    }
}

fn main() {}
