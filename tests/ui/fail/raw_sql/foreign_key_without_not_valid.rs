zerodown::migration! {
    pub mod m0001_foreign_key_without_not_valid {
        raw(reason = "orders belong to users") "alter table orders add constraint orders_user_fk foreign key (user_id) references users (id)";
    }
}

fn main() {}
