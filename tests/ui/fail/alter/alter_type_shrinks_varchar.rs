zerodown::migration! {
    pub mod m0001_alter_type_shrinks_varchar {
        alter table users alter column email type varchar(50) from varchar(100);
    }
}

fn main() {}
