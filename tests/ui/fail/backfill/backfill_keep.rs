zerodown::migration! {
    pub mod m0001_backfill_keep {
        backfill users set token = gen_random_uuid() where token is null keep;
        backfill users set score = app_score(id) where score is null keep;
        create table imports (id bigint primary key, name text, slug text);
        backfill imports set slug = lower(name) keep;
    }
}

fn main() {}
