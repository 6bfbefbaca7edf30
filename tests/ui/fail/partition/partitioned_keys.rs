// A unique key of a partitioned table must include the partition key; hash partitioning and keys on
// partitioned tables need PostgreSQL 11; `create table .. partition of` is not in the DSL.
zerodown::migration! {
    pub mod m0001_tables {
        create table events (id bigint primary key, at date not null) partition by range (at);
    }
}

zerodown::migration! {
    pub mod m0002_old {
        set target_postgres = 10;
        create table sessions (id bigint not null, constraint sessions_pkey primary key (id)) partition by hash (id);
    }
}

zerodown::migration! {
    pub mod m0003_partition_of {
        create table events_2026 partition of events for values from ("2026-01-01") to ("2027-01-01");
    }
}

fn main() {}
