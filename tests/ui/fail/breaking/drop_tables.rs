zerodown::migration! {
    pub mod m0001_drop_tables {
        create table scratch (id bigint);
        drop table scratch, sessions, tokens;
    }
}

fn main() {}
