zerodown::migration! {
    pub mod m0001_alter_type_using {
        alter table users alter column email type text from varchar(100) using lower(email);
    }
}

fn main() {}
