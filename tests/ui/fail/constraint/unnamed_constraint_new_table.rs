zerodown::migration! {
    pub mod m0001_unnamed_constraint_new_table {
        create table accounts (id bigint not null);
        alter table accounts add unique (id);
    }
}

fn main() {}
