// `mcv` statistics need PostgreSQL 12; an unknown kind; a single column.
zerodown::migration! {
    pub mod m0001_stats {
        set target_postgres = 11;
        create statistics orders_mcv (mcv) on customer_id, region from orders;
        create statistics orders_x (histogram) on customer_id, region from orders;
        create statistics orders_one on customer_id from orders;
    }
}

fn main() {}
