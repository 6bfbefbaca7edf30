// The catalog catches what PostgreSQL would refuse at run time: a parent that is not partitioned, a
// bound of the wrong kind, a partition whose columns differ from its parent's.
zerodown::migrations! {
    pub mod m0001_base {
        create table plain (id bigint not null);
        create table events (id bigint not null, at date not null) partition by range (at);
        create table events_2026 (id bigint not null, at timestamptz not null, note text);
        create table other (id bigint not null);
        create table loose (id bigint, at date not null);
    }
    pub mod m0002_attach {
        alter table plain attach partition other for values in (1);
        alter table events attach partition events_2026 for values from ("2026-01-01") to ("2027-01-01");
        alter table events attach partition other for values in (1);
        alter table events attach partition loose for values from ("2027-01-01") to ("2028-01-01");
    }
}

fn main() {}
