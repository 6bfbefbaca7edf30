zerodown::migration! {
    pub mod m0001_unused_allow {
        unsafe(reason = "column unused since v42", allow = [drop_column, drop_table]) {
            alter table users drop column legacy_flag;
        }
    }
}

fn main() {}
