// Only the storage parameters PostgreSQL changes under SHARE UPDATE EXCLUSIVE, and a statistics
// target in range.
zerodown::migration! {
    pub mod m0001_storage {
        alter table events set (fillfactor = 70, user_catalog_table = true);
        alter table events alter column kind set statistics 20000;
    }
}

fn main() {}
