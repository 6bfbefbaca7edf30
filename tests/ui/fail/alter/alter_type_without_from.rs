zerodown::migration! {
    pub mod m0001_alter_type_without_from {
        alter table users alter column email type text;
    }
}

fn main() {}
