zerodown::migration! {
    pub mod m0001_new_enum_value_used {
        alter type mood add value "ecstatic";
        alter table users alter column mood set default "ecstatic";
    }
}

fn main() {}
