// `add column` forms that need no rewrite, and the other `alter table` actions on existing tables.
zerodown::migration! {
    pub mod m0003_columns {
        alter table users add column last_seen timestamptz;
        alter table users add column if not exists status text not null default "active";
        alter table users add column created_at timestamptz not null default now();
        alter table users add column updated_at timestamptz default current_timestamp;
        alter table users add column tenant text default current_setting("app.tenant");
        alter table users add column flags jsonb not null default jsonb_build_object("beta", false);
        alter table users add column day date default date_trunc("day", now())::date;
        alter table users alter column nickname set default md5(random()::text);
        alter table users alter column nickname drop default;
        alter table users alter column email type text from varchar(100);
        alter table users alter column code type varchar(20) from character varying(10);
        alter table users alter column price type numeric(14, 2) from numeric(12, 2);
        alter table users alter column network type inet from cidr;
        alter table users alter column tags type text[] from varchar(30)[];
        alter table users alter column email set not null;
        alter table users alter column nickname drop not null;
        alter table users drop constraint if exists users_old_check;
    }
}

fn main() {
    assert!(!m0003_columns::MIGRATION.expand.steps.is_empty());
}
