// Written by `tests/adopt.rs` (`zerodown::adopt::baseline_migration`) from the schema it builds
// by hand; regenerate with `ZERODOWN_OVERWRITE=1 cargo test --test adopt`.

zerodown::migrations! {
    /// The schema of `adopted_db` as it was when zerodown was adopted (written by `migrate
    /// baseline --write`). Recorded as applied there (`migrate baseline 1`); run on an empty database.
    pub mod m0001_baseline {
        create type order_state as enum ("new", "paid", "shipped");
        create table customers (
            id bigserial,
            email character varying(320) not null,
            name text,
            created_at timestamp with time zone default now() not null,
            constraint customers_email_key unique (email),
            constraint customers_pkey primary key (id),
            constraint customers_name_not_blank check ((name <> ""::text))
        );
        create table orders (
            id integer generated always as identity,
            customer_id bigint not null,
            state order_state default "new"::order_state not null,
            total numeric(12,2) default 0 not null,
            tags text[] default "{}"::text[] not null,
            placed_at timestamp(3) without time zone,
            constraint orders_pkey primary key (id)
        );
        create table order_lines (
            order_id integer not null,
            line smallint not null,
            sku text not null,
            qty integer default 1 not null,
            constraint order_lines_pkey primary key (order_id, line),
            constraint order_lines_qty_check check ((qty > 0))
        );
        create table events (
            id bigint not null,
            day date not null,
            kind text not null,
            customer_id bigint,
            constraint events_pkey primary key (id, day),
            constraint events_kind_check check ((kind <> ""::text))
        ) partition by range (day);
        create table events_2025 (
            id bigint not null,
            day date not null,
            kind text not null,
            customer_id bigint,
            constraint events_kind_check check ((kind <> ""::text))
        );
        create table events_rest (
            id bigint not null,
            day date not null,
            kind text not null,
            customer_id bigint,
            constraint events_kind_check check ((kind <> ""::text))
        );
        create table shards (
            id bigint not null,
            v text
        ) partition by hash (id);
        create table shards_0 (
            id bigint not null,
            v text
        );
        create table shards_1 (
            id bigint not null,
            v text
        );
        create table regions (
            code text not null,
            name text
        ) partition by list (code);
        create table regions_eu (
            code text not null,
            name text
        );
        create index orders_customer_idx on orders using btree (customer_id);
        create unique index customers_lower_email_idx on customers using btree (lower((email)::text));
        create index order_lines_sku_idx on order_lines using btree (sku) where (qty > 1);
        create index events_kind_idx on events using btree (kind);
        create index regions_eu_name_idx on regions_eu using btree (name);
        alter table events attach partition events_2025 for values from ("2025-01-01") to ("2026-01-01");
        alter table events attach partition events_rest default;
        alter table shards attach partition shards_0 for values with (modulus 2, remainder 0);
        alter table shards attach partition shards_1 for values with (modulus 2, remainder 1);
        alter table regions attach partition regions_eu for values in ("de", "fr");
        alter table orders add constraint orders_customer_id_fkey foreign key (customer_id) references customers (id) on delete cascade;
        alter table orders add constraint orders_total_positive check ((total >= (0)::numeric)) not valid;
        alter table order_lines add constraint order_lines_order_id_fkey foreign key (order_id) references orders (id);
        alter table events add constraint events_customer_id_fkey foreign key (customer_id) references customers (id);
        raw(reason = "baseline: view paid_orders") r#"CREATE VIEW public.paid_orders AS  SELECT orders.id,
    orders.total
   FROM orders
  WHERE (orders.state = 'paid'::order_state)"#;
        raw(reason = "baseline: function touch_created") r#"CREATE OR REPLACE FUNCTION public.touch_created()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    NEW.created_at := coalesce(NEW.created_at, now());
    RETURN NEW;
END
$function$"#;
        raw(reason = "baseline: trigger customers_touch") r#"CREATE TRIGGER customers_touch BEFORE INSERT ON public.customers FOR EACH ROW EXECUTE FUNCTION touch_created()"#;
    }
}
