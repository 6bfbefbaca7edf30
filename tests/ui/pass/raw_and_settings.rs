// Every setting, and `raw` SQL with a reason, including a function body whose `begin`/`end` are
// PL/pgSQL keywords.
zerodown::migration! {
    pub mod m0005_raw_and_settings {
        set lock_timeout = 2s;
        set statement_timeout = "1min";
        set online_lock_timeout = 2min;
        set long_statement_timeout = 12h;
        set retry_attempts = 5;
        set retry_budget = 10min;
        set backfill_batch_size = 5_000;
        set backfill_pause = 50ms;
        set target_postgres = 15;

        raw(reason = "keep updated_at current on every write") r#"
            create or replace function touch() returns trigger language plpgsql as $$
            begin
                new.updated_at := now();
                return new;
            end
            $$;
            -- begin and commit in a comment are fine
            create trigger users_touch before update on users for each row execute function touch();
        "#;
        raw(reason = "refresh the stats view without blocking readers", lock = exclusive, no_transaction)
            "refresh materialized view concurrently user_stats";
    }
}

fn main() {
    let settings = &m0005_raw_and_settings::MIGRATION.settings;
    assert_eq!(settings.lock_timeout_ms, 2_000);
    assert_eq!(settings.target.0, 15);
}
