zerodown::migration! {
    pub mod m0001_primary_key_before_pg12 {
        set target_postgres = 11;

        alter table events add constraint events_pkey primary key (id);
    }
}

fn main() {}
