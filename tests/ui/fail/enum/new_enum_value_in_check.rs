zerodown::migration! {
    pub mod m0001_new_enum_value_in_check {
        alter type status add value "archived" after "active";
        alter table posts add constraint posts_visible_check check (status <> "archived") not valid;
    }
}

fn main() {}
