// Expand/contract changes one plain table through triggers: not a partitioned table.
zerodown::migrations! {
    pub mod m0001_base {
        create table events (id int not null, at date not null) partition by range (at);
    }
    pub mod m0002_widen {
        expand alter table events alter column id type bigint from int;
    }
}

fn main() {}
