// PostgreSQL refuses to detach concurrently from a table with a default partition; and a table that
// is not a partition of the parent cannot be detached from it.
zerodown::migrations! {
    pub mod m0001_base {
        set target_postgres = 14;
        create table events (id bigint not null, at date not null) partition by range (at);
        create table events_rest (id bigint not null, at date not null);
        create table events_2025 (id bigint not null, at date not null);
        alter table events attach partition events_2025 for values from ("2025-01-01") to ("2026-01-01");
        alter table events attach partition events_rest default;
    }
    pub mod m0002_detach {
        set target_postgres = 14;
        alter table events detach partition events_2025 concurrently;
        alter table events detach partition events_rust;
    }
}

fn main() {}
