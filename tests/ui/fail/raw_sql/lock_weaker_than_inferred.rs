zerodown::migration! {
    pub mod m0001_lock_weaker_than_inferred {
        raw(reason = "a column for the importer", lock = row_exclusive) "alter table users add column import_id bigint";
    }
}

fn main() {}
