zerodown::migration! {
    pub mod m0001_reindex_before_pg12 {
        set target_postgres = 11;

        reindex table users;
    }
}

fn main() {}
