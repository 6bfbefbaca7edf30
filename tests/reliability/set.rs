//! The realistic migration set the reliability tests run: an application's existing tables with data
//! (`setup`), then migrations covering every kind of step the runtime executes: new tables, concurrent
//! index builds (plain and unique, slowed down by an expensive immutable function so a build can be
//! interrupted mid-way), the not-null recipe, a foreign key added `not valid` then validated, the
//! unique constraint recipe, a slow batched backfill, and two expand/contract changes (a type change
//! and a column rename, whose contract phases run with `complete`).
//!
//! `orders`, which the application writer (`writer.rs`) inserts, updates and deletes in, has the
//! triggers a production table has: one normalising `amount`, one stamping `updated_at`, one auditing
//! updates. A migration must neither lose what they stored nor fire them.
//!
//! Every migration without `expand` operations also inserts its version into `effects` in one of its
//! transactional steps, so a test can check that no step's transaction ran twice.

use std::sync::OnceLock;

use zerodown::{Migration, Migrator, PgVersion};

/// Rows in `users`, and in `events`. Each concurrent build over `slow_identity` (on `events`, which
/// nothing else writes, so updates elsewhere stay fast) sleeps 1.5 ms per row, so a slow build takes
/// about 0.25 s: long enough to be killed mid-build, short enough for many iterations. The backfill
/// calls it too.
pub const USERS: i64 = 150;

/// Rows in `orders` before any migration.
pub const ORDERS: i64 = 500;

/// The application's schema and data before the first migration.
pub fn setup() -> String {
    format!(
        "
CREATE FUNCTION slow_identity(i bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS
    $$ BEGIN PERFORM pg_sleep(0.0015); RETURN i; END $$;
CREATE TABLE effects (id serial PRIMARY KEY, version int NOT NULL);
CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL);
INSERT INTO events SELECT g, 'kind ' || (g % 7) FROM generate_series(1, {USERS}) g;
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text, handle text);
INSERT INTO users SELECT g, 'user' || g || '@example.com', 'name ' || g, 'h' || g FROM generate_series(1, {USERS}) g;
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL, amount int NOT NULL,
    updated_at timestamp NOT NULL DEFAULT '2020-01-01');
INSERT INTO orders (user_id, amount) SELECT 1 + g % {USERS}, g FROM generate_series(1, {ORDERS}) g;
CREATE TABLE orders_audit (id bigserial PRIMARY KEY, order_id bigint NOT NULL);
CREATE FUNCTION orders_normalize() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.amount := abs(NEW.amount); RETURN NEW; END $$;
CREATE TRIGGER orders_normalize BEFORE INSERT OR UPDATE ON orders FOR EACH ROW EXECUTE PROCEDURE orders_normalize();
CREATE FUNCTION orders_touch() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE PROCEDURE orders_touch();
CREATE FUNCTION orders_audit() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO orders_audit (order_id) VALUES (NEW.id); RETURN NULL; END $$;
CREATE TRIGGER orders_audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE PROCEDURE orders_audit();
"
    )
}

zerodown::migration! {
    /// A new table with its index.
    pub mod m0001_accounts {
        set target_postgres = 10;
        create table accounts (
            id bigint primary key,
            name text not null,
            created_at timestamptz not null default now()
        );
        create index accounts_name_idx on accounts (name);
        raw(reason = "record that this migration ran") "insert into effects (version) values (1)";
    }
}

zerodown::migration! {
    /// Two slow concurrent builds on an existing table, one of them unique.
    pub mod m0002_slow_indexes {
        set target_postgres = 10;
        create index concurrently events_slow_idx on events (slow_identity(id));
        create unique index concurrently events_slow_uniq on events (slow_identity(id));
        raw(reason = "record that this migration ran") "insert into effects (version) values (2)";
    }
}

zerodown::migration! {
    /// The not-null recipe: check `not valid`, validate, `set not null`, drop the check.
    pub mod m0003_name_not_null {
        alter table users alter column name set not null;
        raw(reason = "record that this migration ran") "insert into effects (version) values (3)";
    }
}

zerodown::migration! {
    /// A foreign key added `not valid`, then validated in its own transaction.
    pub mod m0004_orders_fk {
        set target_postgres = 10;
        alter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid;
        alter table orders validate constraint orders_user_fk;
        raw(reason = "record that this migration ran") "insert into effects (version) values (4)";
    }
}

zerodown::migration! {
    /// The unique constraint recipe: a unique index built concurrently, attached with `using index`.
    pub mod m0005_handle_unique {
        set target_postgres = 10;
        alter table users add constraint users_handle_key unique (handle);
        raw(reason = "record that this migration ran") "insert into effects (version) values (5)";
    }
}

zerodown::migration! {
    /// A slow unique build, then a cheap change after it.
    pub mod m0006_events_unique {
        set target_postgres = 10;
        create unique index concurrently events_kind_slow_uniq on events (slow_identity(id), kind);
        alter table users add column last_seen timestamptz;
        raw(reason = "record that this migration ran") "insert into effects (version) values (6)";
    }
}

zerodown::migration! {
    /// A new column filled by a batched backfill, slowed down so a batch can be interrupted.
    pub mod m0007_email_lower {
        set target_postgres = 10;
        set backfill_batch_size = 25;
        set backfill_pause = 5ms;
        alter table users add column email_lower text;
        backfill users set email_lower = lower(email) || "#" || slow_identity(id) where email_lower is null;
        raw(reason = "record that this migration ran") "insert into effects (version) values (7)";
    }
}

zerodown::migration! {
    /// Widen `orders.amount` across deploys, while the application keeps inserting orders.
    pub mod m0008_amount_bigint {
        set target_postgres = 10;
        expand alter table orders alter column amount type bigint from integer;
    }
}

zerodown::migration! {
    /// Rename `users.handle` (unique since migration 5) across deploys.
    pub mod m0009_handle_to_nick {
        set target_postgres = 10;
        expand alter table users rename column handle to nick;
    }
}

/// The server major the set is chosen for: the test database's, or in a child process the one its
/// parent passed in [`SERVER_VAR`].
static SERVER: OnceLock<PgVersion> = OnceLock::new();

/// The environment variable a parent passes the server major to its children in.
pub const SERVER_VAR: &str = "ZDREL_SET_SERVER";

/// Chooses the set for a server of major `version` (see [`migrations`]). The first call wins.
pub fn for_server(version: PgVersion) {
    let _ = SERVER.set(version);
}

/// The server major the set is chosen for.
pub fn server() -> PgVersion {
    *SERVER.get_or_init(|| {
        let v = std::env::var(SERVER_VAR)
            .expect("set::for_server must be called (by TestDb::new) before the set is used");
        PgVersion(v.parse().expect("a major version number"))
    })
}

/// The migrations, in order: every migration whose target the server meets. All target PostgreSQL 10
/// but the not-null recipe, which needs 12 (on 10 and 11 the set runs without it, and the tests check
/// that the runtime refuses it there).
pub fn migrations() -> Vec<&'static Migration> {
    let server = server();
    all()
        .into_iter()
        .filter(|m| m.settings.target <= server)
        .collect()
}

/// Every migration of the set, whatever the server.
pub fn all() -> Vec<&'static Migration> {
    vec![
        &m0001_accounts::MIGRATION,
        &m0002_slow_indexes::MIGRATION,
        &m0003_name_not_null::MIGRATION,
        &m0004_orders_fk::MIGRATION,
        &m0005_handle_unique::MIGRATION,
        &m0006_events_unique::MIGRATION,
        &m0007_email_lower::MIGRATION,
        &m0008_amount_bigint::MIGRATION,
        &m0009_handle_to_nick::MIGRATION,
    ]
}

/// Versions of the migrations that insert into `effects` (migrations with `expand` operations hold
/// nothing else).
pub fn effect_versions() -> Vec<i32> {
    migrations()
        .iter()
        .filter(|m| !m.has_contract())
        .map(|m| m.version as i32)
        .collect()
}

/// Steps over both phases of every migration.
pub fn total_steps() -> usize {
    migrations()
        .iter()
        .map(|m| m.expand.steps.len() + m.contract.steps.len())
        .sum()
}

/// A migrator over the set whose connections are named `application_name`.
pub fn migrator(application_name: &str) -> Migrator {
    Migrator::new(&migrations())
        .expect("the set is valid")
        .application_name(application_name)
}
