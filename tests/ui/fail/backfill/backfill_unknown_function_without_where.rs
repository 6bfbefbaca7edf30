zerodown::migration! {
    pub mod m0001_backfill_unknown_function_without_where {
        backfill users set slug = app_slug(name);
    }
}

fn main() {}
