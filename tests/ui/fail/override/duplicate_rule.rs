zerodown::migration! {
    pub mod m0001_duplicate_rule {
        unsafe(reason = "column unused since v42", allow = [drop_column, drop_column]) {
            alter table users drop column legacy_flag;
        }
    }
}

fn main() {}
