// `backfill` statements and the volatile-default recipe (add column, set default, backfill).
zerodown::migration! {
    pub mod m0012_backfill {
        set backfill_batch_size = 5_000;
        set backfill_pause = 50ms;

        backfill users set email_lower = lower(email);
        backfill app.users set a = 1, flag = b > 2 where a is null by (tenant_id, id);
        backfill users set token = gen_random_uuid() where token is null;
        backfill users set seen_at = now() where seen_at is null;
        alter table users add column api_key uuid not null default gen_random_uuid();
        alter table users add column bucket int default coalesce((random() * 10)::int, 0);
        alter table users add column score int default app_score();
        create table imports (id bigint primary key, name text, slug text);
        backfill imports set slug = lower(name);
    }
}

fn main() {
    use zerodown::plan::StepKind;
    let steps = m0012_backfill::MIGRATION.expand.steps;
    let backfills = steps.iter().filter(|s| matches!(s.kind, StepKind::Backfill(_))).count();
    assert_eq!(backfills, 4 + 3 + 1);
}
