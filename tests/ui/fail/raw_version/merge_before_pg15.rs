zerodown::migration! {
    pub mod m0001_merge_before_pg15 {
        set target_postgres = 14;
        raw(reason = "upsert totals", lock = row_exclusive) "merge into totals t using staged s on t.id = s.id when matched then update set n = s.n";
    }
}

fn main() {}
