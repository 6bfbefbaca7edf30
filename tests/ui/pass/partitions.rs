// Partitioned tables and the online attach/detach forms.
zerodown::migrations! {
    pub mod m0001_base {
        set target_postgres = 14;
        create table events (id bigint not null, at timestamptz not null, kind text not null, primary key (id, at)) partition by range (at);
        create table events_2025 (id bigint not null, at timestamptz not null, kind text not null);
        alter table events attach partition events_2025 for values from ("2025-01-01") to ("2026-01-01");
        create table kinds (kind text, n int) partition by list (kind);
        create table sessions (id bigint not null) partition by hash (id);
        create table sessions_0 (id bigint not null);
        alter table sessions attach partition sessions_0 for values with (modulus 2, remainder 0);
    }
    pub mod m0002_more {
        set target_postgres = 14;
        create table events_2026 (id bigint not null, at timestamptz not null, kind text not null);
        create table kinds_ab (kind text, n int);
    }
    pub mod m0003_attach {
        set target_postgres = 14;
        alter table events attach partition events_2026 for values from ("2026-01-01") to (maxvalue);
        alter table kinds attach partition kinds_ab for values in ("a", "b", null);
        alter table events detach partition events_2025 concurrently;
    }
    pub mod m0004_default {
        set target_postgres = 14;
        create table kinds_rest (kind text, n int);
        alter table kinds attach partition kinds_rest default;
        alter table events detach partition events_2026;
    }
}

fn main() {}
