zerodown::migration! {
    pub mod m0001_alter_type_rewrites {
        alter table users alter column id type bigint from int;
    }
}

fn main() {}
