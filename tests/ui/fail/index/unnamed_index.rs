zerodown::migration! {
    pub mod m0001_unnamed_index {
        create index concurrently on users (org_id, email);
    }
}

fn main() {}
