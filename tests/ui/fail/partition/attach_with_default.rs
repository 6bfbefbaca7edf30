// The parent has a default partition: PostgreSQL scans it under ACCESS EXCLUSIVE on every attach,
// even of a table created in the same migration.
zerodown::migrations! {
    pub mod m0001_base {
        create table events (id bigint not null, at date not null) partition by range (at);
        create table events_rest (id bigint not null, at date not null);
        alter table events attach partition events_rest default;
    }
    pub mod m0002_year {
        create table events_2026 (id bigint not null, at date not null);
        alter table events attach partition events_2026 for values from ("2026-01-01") to ("2027-01-01");
    }
}

fn main() {}
