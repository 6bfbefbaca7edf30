zerodown::migration! {
    pub mod m0001_alter_column_type {
        raw(reason = "ids outgrow int") "alter table orders alter column id type bigint";
    }
}

fn main() {}
