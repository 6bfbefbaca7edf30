zerodown::migration! {
    pub mod m0001_foreign_key_without_not_valid {
        alter table orders add constraint orders_user_id_fkey foreign key (user_id) references users (id);
    }
}

fn main() {}
