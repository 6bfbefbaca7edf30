//! Widening an identity or serial primary key online (`expand alter table orders alter column id
//! type bigint from integer`), with a table whose foreign key references it, while the application
//! inserts, updates and deletes on both tables. The identity (or the serial's sequence and default),
//! the primary key and the referencing foreign key are carried to the new column; `complete` swaps
//! them in. The tables are production-like: an `updated_at` trigger, an audit trigger, a cascading
//! foreign key.

mod phased_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use phased_support::{fresh_database, init_tracing, Db, Writers};
use zerodown::{Migration, Migrator};

zerodown::migration! {
    /// `orders.id` outgrows `integer`.
    pub mod m0001_orders_id_bigint {
        set target_postgres = 10;
        expand alter table orders alter column id type bigint from integer;
    }
}

/// The same tables, with their triggers, and the same change, as a `migrations!` set: its plan shows
/// every statement the widening runs (the catalog knows the key, its index and the referencing
/// foreign key), and the runtime holds what it derives against it before each step.
mod set {
    zerodown::migrations! {
        pub mod m0001_orders {
            set target_postgres = 10;
            create table orders (
                id integer generated always as identity primary key,
                total_cents bigint not null,
                note text,
                updated_at timestamptz not null default now()
            );
            create table orders_audit (id bigserial primary key, order_id bigint not null, op text not null);
            raw(reason = "the application's updated_at") r#"CREATE FUNCTION touch_orders() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$"#;
            raw(reason = "the application's updated_at") "CREATE TRIGGER touch_orders BEFORE UPDATE ON orders FOR EACH ROW EXECUTE PROCEDURE touch_orders()";
            raw(reason = "the application's audit") r#"CREATE FUNCTION audit_orders() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO orders_audit (order_id, op) VALUES (OLD.id, TG_OP); RETURN NULL; END $$"#;
            raw(reason = "the application's audit") "CREATE TRIGGER audit_orders AFTER UPDATE OR DELETE ON orders FOR EACH ROW EXECUTE PROCEDURE audit_orders()";
            create table order_items (
                id bigserial primary key,
                order_id integer not null,
                qty int not null,
                constraint order_items_order_id_fkey foreign key (order_id) references orders (id) on delete cascade
            );
            create index order_items_order_idx on order_items (order_id);
        }
        pub mod m0002_orders_id_bigint {
            set target_postgres = 10;
            expand alter table orders alter column id type bigint from integer;
        }
    }
}

/// How the tables come to be: by hand (then the single `migration!` widens the key), or by the
/// set's first migration (then the set's second one does).
#[derive(Clone, Copy)]
enum Tables {
    ByHand(&'static str),
    BySet,
}

const ROWS: i64 = 20_000;

/// `orders` with `id` declared `key`, and `order_items` referencing it.
fn schema(key: &str) -> String {
    schema_of(key, ROWS)
}

/// [`schema`] with `rows` orders (and twice as many items).
fn schema_of(key: &str, rows: i64) -> String {
    format!("{}\n{}", tables(key), rows_of(rows))
}

/// The orders of [`schema_of`].
fn rows_of(rows: i64) -> String {
    format!(
        "INSERT INTO orders (total_cents, note) SELECT g * 10, 'order ' || g FROM generate_series(1, {rows}) g;
        INSERT INTO order_items (order_id, qty) SELECT 1 + g % {rows}, g % 5 + 1 FROM generate_series(1, {}) g;",
        rows * 2
    )
}

/// The tables of [`schema_of`], with their triggers.
fn tables(key: &str) -> String {
    format!(
        "CREATE TABLE orders (
            id {key} PRIMARY KEY,
            total_cents bigint NOT NULL,
            note text,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE orders_audit (id bigserial PRIMARY KEY, order_id bigint NOT NULL, op text NOT NULL);
        CREATE FUNCTION touch_orders() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
        CREATE TRIGGER touch_orders BEFORE UPDATE ON orders FOR EACH ROW EXECUTE PROCEDURE touch_orders();
        CREATE FUNCTION audit_orders() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO orders_audit (order_id, op) VALUES (OLD.id, TG_OP); RETURN NULL; END $$;
        CREATE TRIGGER audit_orders AFTER UPDATE OR DELETE ON orders FOR EACH ROW EXECUTE PROCEDURE audit_orders();
        CREATE TABLE order_items (
            id bigserial PRIMARY KEY,
            order_id integer NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
            qty int NOT NULL
        );
        CREATE INDEX order_items_order_idx ON order_items (order_id);"
    )
}

/// The writers' rows: updates go to multiples of 7, deletes to multiples of 97; every other row is
/// left alone, so its values must come through the migration unchanged.
const UNTOUCHED: &str = "id <= 20000 AND id % 7 <> 0 AND id % 97 <> 0";

/// What the writers did: rows updated and deleted.
#[derive(Default)]
struct Done {
    updated: AtomicU64,
    deleted: AtomicU64,
    /// Every request's latency in microseconds, with when it ended (for the load run).
    latencies: std::sync::Mutex<Vec<(std::time::Instant, u64)>>,
}

impl Done {
    fn record(&self, began: std::time::Instant) {
        let now = std::time::Instant::now();
        let micros = (now - began).as_micros() as u64;
        self.latencies.lock().unwrap().push((now, micros));
    }
}

/// The application during the deploy: inserts orders with items, updates and deletes orders (the
/// items go by cascade), adds items to orders that are never deleted. Among the first `rows` orders.
fn application(db: &Db, writers: &mut Writers, rows: i64) -> Arc<Done> {
    let done = Arc::new(Done::default());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_lazy_with(db.options.clone());
    let (p, d) = (pool.clone(), done.clone());
    writers.spawn(move |i| {
        let (p, d) = (p.clone(), d.clone());
        async move {
            let began = std::time::Instant::now();
            let mut tx = p.begin().await.map_err(|e| e.to_string())?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO orders (total_cents, note) VALUES ($1, 'new') RETURNING id::bigint",
            )
            .bind(i as i64)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| format!("insert order: {e}"))?;
            sqlx::query("INSERT INTO order_items (order_id, qty) VALUES ($1, 1), ($1, 2)")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("insert items of {id}: {e}"))?;
            tx.commit().await.map_err(|e| e.to_string())?;
            d.record(began);
            Ok(())
        }
    });
    // Updates go to multiples of 7, deletes to multiples of 97 (the items go by cascade).
    for (sql, step, deletes) in [
        (
            "UPDATE orders SET total_cents = total_cents + 1 WHERE id = $1",
            7,
            false,
        ),
        ("DELETE FROM orders WHERE id = $1", 97, true),
    ] {
        let (p, d) = (pool.clone(), done.clone());
        writers.spawn(move |i| {
            let (p, d) = (p.clone(), d.clone());
            async move {
                let began = std::time::Instant::now();
                let id = step * (i as i64 % (rows / step)) + step;
                let n = sqlx::query(sql)
                    .bind(id)
                    .execute(&p)
                    .await
                    .map_err(|e| format!("{sql} ({id}): {e}"))?
                    .rows_affected();
                let count = if deletes { &d.deleted } else { &d.updated };
                count.fetch_add(n, Ordering::Relaxed);
                d.record(began);
                Ok(())
            }
        });
    }
    let d = done.clone();
    writers.spawn(move |i| {
        let (p, d) = (pool.clone(), d.clone());
        async move {
            let began = std::time::Instant::now();
            // Never a multiple of 97: the order is never deleted.
            let id = 97 * (i as i64 % (rows / 97)) + 1;
            sqlx::query("INSERT INTO order_items (order_id, qty) VALUES ($1, 3)")
                .bind(id)
                .execute(&p)
                .await
                .map_err(|e| format!("insert item of {id}: {e}"))?;
            d.record(began);
            Ok(())
        }
    });
    done
}

/// The rows nobody touches, as text.
async fn untouched(db: &Db) -> Vec<String> {
    let mut c = db.connect().await;
    sqlx::query_scalar(&format!(
        "SELECT concat_ws(' ', id, total_cents, note, updated_at) FROM orders WHERE {UNTOUCHED} ORDER BY id"
    ))
    .fetch_all(&mut c)
    .await
    .unwrap()
}

/// `(constraint name, its definition, validated)` of the foreign keys referencing `orders`.
async fn referencing(db: &Db) -> Vec<(String, String, bool)> {
    let mut c = db.connect().await;
    sqlx::query_as(
        "SELECT conname::text, pg_get_constraintdef(oid), convalidated FROM pg_constraint
          WHERE contype = 'f' AND confrelid = 'orders'::regclass ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

async fn widen_under_the_application(label: &str, tables: Tables) -> (Db, Arc<Done>) {
    init_tracing();
    let db = fresh_database(label).await;
    let migrations: Vec<&'static Migration> = match tables {
        Tables::ByHand(key) => {
            db.exec(&schema(key)).await;
            vec![&m0001_orders_id_bigint::MIGRATION]
        }
        Tables::BySet => {
            Migrator::new(&set::MIGRATIONS[..1])
                .unwrap()
                .run(&db.options)
                .await
                .unwrap();
            db.exec(&rows_of(ROWS)).await;
            set::MIGRATIONS.to_vec()
        }
    };
    let before = untouched(&db).await;
    let migrator = Migrator::new(&migrations).unwrap();
    let mut writers = Writers::new();
    let done = application(&db, &mut writers, ROWS);
    writers.wait_for(40).await;
    migrator
        .run(&db.options)
        .await
        .unwrap_or_else(|e| panic!("run: {e}"));
    // The old version goes on writing between `run` and `complete`.
    writers.wait_for(40).await;
    migrator
        .complete(&db.options)
        .await
        .unwrap_or_else(|e| panic!("complete: {e}"));
    writers.wait_for(40).await;
    let errors = writers.stop().await;
    assert!(
        errors.is_empty(),
        "the application's requests failed: {errors:?}"
    );

    let ty: String = db
        .scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'id'")
        .await;
    assert_eq!(ty, "bigint");
    let pkey: String = db
        .scalar("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND conname = 'orders_pkey'")
        .await;
    assert_eq!(pkey, "PRIMARY KEY (id)");
    assert_eq!(
        referencing(&db).await,
        [(
            "order_items_order_id_fkey".to_owned(),
            "FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE".to_owned(),
            true
        )]
    );
    // Values: the rows nobody touched are as they were (the application's triggers did not fire
    // for zerodown's copying: their `updated_at` is unchanged), and the audit has one row per row the
    // application updated or deleted.
    let after = untouched(&db).await;
    let changed: Vec<(&String, &String)> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .take(3)
        .collect();
    assert!(
        changed.is_empty() && before.len() == after.len(),
        "rows nobody touched changed ({} rows before, {} after): {changed:?}",
        before.len(),
        after.len()
    );
    let audited: i64 = db.scalar("SELECT count(*) FROM orders_audit").await;
    let expected = done.updated.load(Ordering::Relaxed) + done.deleted.load(Ordering::Relaxed);
    assert_eq!(
        audited as u64, expected,
        "audit rows besides the application's writes"
    );
    assert!(
        done.deleted.load(Ordering::Relaxed) > 0,
        "nothing was deleted"
    );
    // The foreign key still holds and cascades.
    let orphans: i64 = db
        .scalar("SELECT count(*) FROM order_items i WHERE NOT EXISTS (SELECT FROM orders o WHERE o.id = i.order_id)")
        .await;
    assert_eq!(orphans, 0);
    let err = db
        .exec_err("INSERT INTO order_items (order_id, qty) VALUES (-5, 1)")
        .await;
    assert!(err.contains("order_items_order_id_fkey"), "{err}");
    (db, done)
}

/// The next key goes on from where the old column's sequence was.
async fn next_key_follows(db: &Db) {
    let max: i64 = db.scalar("SELECT max(id) FROM orders").await;
    let next: i64 = db
        .scalar("INSERT INTO orders (total_cents) VALUES (1) RETURNING id::bigint")
        .await;
    assert!(next > max, "the new key {next} is not above {max}");
    assert!(next <= max + 40, "the new key {next} jumped far past {max}");
}

#[tokio::test]
async fn an_identity_primary_key_is_widened_under_the_application() {
    let (db, _) = widen_under_the_application(
        "widen_identity",
        Tables::ByHand("integer GENERATED ALWAYS AS IDENTITY"),
    )
    .await;
    identity_kept(&db).await;
}

/// The same through a `migrations!` set: every step runs only the statements its plan shows (the
/// runtime refuses otherwise), under the same application, with the same values and audit.
#[tokio::test]
async fn an_identity_key_widened_by_a_set_runs_the_statements_its_plan_shows() {
    let shown = set::MIGRATIONS[1].to_string();
    for expected in [
        r#"CREATE UNIQUE INDEX CONCURRENTLY "_zd_orders_pkey" ON "orders" USING btree ("_zd_id_new");"#,
        r#"ALTER TABLE "order_items" ADD CONSTRAINT "_zd_order_items_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "orders"("_zd_id_new") ON DELETE CASCADE NOT VALID;"#,
        r#"ALTER TABLE "orders" ADD CONSTRAINT "orders_pkey" PRIMARY KEY USING INDEX "_zd_orders_pkey";"#,
        "-- then the identity is re-created",
    ] {
        assert!(shown.contains(expected), "{expected}\nnot in:\n{shown}");
    }
    let (db, _) = widen_under_the_application("widen_identity_set", Tables::BySet).await;
    identity_kept(&db).await;
}

/// The identity of `orders.id` after the widening: always, its sequence, bigint's limit, the next
/// key after the last.
async fn identity_kept(db: &Db) {
    let (identity, sequence): (String, String) = {
        let mut c = db.connect().await;
        sqlx::query_as(
            "SELECT attidentity::text, pg_get_serial_sequence('orders', 'id') FROM pg_attribute
              WHERE attrelid = 'orders'::regclass AND attname = 'id'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap()
    };
    assert_eq!(identity, "a", "GENERATED ALWAYS");
    assert_eq!(sequence, "public.orders_id_seq");
    let max: i64 = db
        .scalar("SELECT seqmax FROM pg_sequence WHERE seqrelid = 'orders_id_seq'::regclass")
        .await;
    assert_eq!(max, i64::MAX, "the limit was integer's own: now bigint's");
    next_key_follows(db).await;
    let err = db
        .exec_err("INSERT INTO orders (id, total_cents) VALUES (1, 1)")
        .await;
    // "cannot insert into column" before PostgreSQL 15, "cannot insert a non-DEFAULT value .." after.
    assert!(
        err.contains("cannot insert") && err.contains("\"id\""),
        "{err}"
    );
}

#[tokio::test]
async fn a_serial_primary_key_is_widened_under_the_application() {
    let (db, _) = widen_under_the_application("widen_serial", Tables::ByHand("serial")).await;
    let (default, owner): (String, String) = {
        let mut c = db.connect().await;
        sqlx::query_as(
            "SELECT pg_get_expr(d.adbin, d.adrelid), pg_get_serial_sequence('orders', 'id')
               FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
              WHERE d.adrelid = 'orders'::regclass AND a.attname = 'id'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap()
    };
    assert_eq!(default, "nextval('orders_id_seq'::regclass)");
    assert_eq!(owner, "public.orders_id_seq", "the sequence is owned by id");
    next_key_follows(&db).await;
}

#[tokio::test]
async fn a_rollback_before_complete_removes_the_carried_foreign_key() {
    init_tracing();
    let db = fresh_database("widen_rollback").await;
    db.exec(&schema("integer GENERATED BY DEFAULT AS IDENTITY"))
        .await;
    let before = db.catalog().await;
    let m: &'static Migration = &m0001_orders_id_bigint::MIGRATION;
    let migrator = Migrator::new(&[m]).unwrap();
    migrator.run(&db.options).await.unwrap();
    let carried = referencing(&db).await;
    assert_eq!(carried.len(), 2, "{carried:?}");
    assert!(
        carried
            .iter()
            .any(|(name, def, valid)| name == "_zd_order_items_order_id_fkey"
                && def.contains("REFERENCES orders(_zd_id_new)")
                && *valid),
        "{carried:?}"
    );
    migrator.rollback(&db.options, 1).await.unwrap();
    assert_eq!(
        db.catalog().await,
        before,
        "the rollback left something behind"
    );
    // The key's identity is untouched.
    let next: i64 = db
        .scalar("INSERT INTO orders (total_cents) VALUES (1) RETURNING id::bigint")
        .await;
    assert_eq!(next, ROWS + 1);
}

/// p50, p99 and max (in ms) of the latencies that ended in `window`, and how many.
fn summary(done: &Done, window: std::ops::Range<std::time::Instant>) -> (f64, f64, f64, usize) {
    let mut l: Vec<u64> = done
        .latencies
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| window.contains(at))
        .map(|(_, micros)| *micros)
        .collect();
    l.sort_unstable();
    if l.is_empty() {
        return (0.0, 0.0, 0.0, 0);
    }
    let at = |q: f64| l[((l.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    (at(0.5), at(0.99), at(1.0), l.len())
}

/// The identity key of 1M orders (2M items referencing them) widened while the application
/// writes: prints the application's latency before and during `run` + `complete`, and the time
/// each took. Run with `cargo test --release --test widen_key -- --ignored --nocapture`
/// (`ZERODOWN_WIDEN_ROWS` sets the row count). Numbers, not assertions: the machine is shared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a load run that prints numbers; see its doc"]
async fn widen_a_million_row_identity_key_under_load() {
    let rows: i64 = std::env::var("ZERODOWN_WIDEN_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let db = fresh_database("widen_load").await;
    let t = std::time::Instant::now();
    db.exec(&schema_of("integer GENERATED ALWAYS AS IDENTITY", rows))
        .await;
    db.exec("VACUUM ANALYZE orders").await;
    db.exec("VACUUM ANALYZE order_items").await;
    println!(
        "loaded {rows} orders and {} items in {:.1} s",
        rows * 2,
        t.elapsed().as_secs_f64()
    );
    let m: &'static Migration = &m0001_orders_id_bigint::MIGRATION;
    let migrator = Migrator::new(&[m]).unwrap();
    let mut writers = Writers::new();
    let done = application(&db, &mut writers, rows);
    let before = std::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let began = std::time::Instant::now();
    migrator
        .run(&db.options)
        .await
        .unwrap_or_else(|e| panic!("run: {e}"));
    let ran = std::time::Instant::now();
    migrator
        .complete(&db.options)
        .await
        .unwrap_or_else(|e| panic!("complete: {e}"));
    let completed = std::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let errors = writers.stop().await;
    let show = |name: &str, (p50, p99, max, n): (f64, f64, f64, usize)| {
        println!("{name:<28} {n:>7} requests  p50 {p50:7.2} ms  p99 {p99:7.2} ms  max {max:8.2} ms")
    };
    println!(
        "run {:.1} s, complete {:.2} s; {} failed requests",
        (ran - began).as_secs_f64(),
        (completed - ran).as_secs_f64(),
        errors.len()
    );
    show("before the migration", summary(&done, before..began));
    show("during run", summary(&done, began..ran));
    show("during complete", summary(&done, ran..completed));
    for e in errors.iter().take(5) {
        println!("  error: {e}");
    }
    let ty: String = db
        .scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'id'")
        .await;
    assert_eq!(ty, "bigint");
    assert!(errors.is_empty(), "{} requests failed", errors.len());
    let valid: bool = db
        .scalar(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'order_items_order_id_fkey'",
        )
        .await;
    assert!(valid);
}
