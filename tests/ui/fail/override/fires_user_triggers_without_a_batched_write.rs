zerodown::migration! {
    pub mod m0001_no_batched_write {
        // Nothing in the block updates rows in batches, so there is no trigger to let fire.
        unsafe(reason = "the audit log must see it", allow = [fires_user_triggers]) {
            alter table users add column nickname text;
        }
    }
}

fn main() {}
