zerodown::migration! {
    pub mod m0001_nested_unsafe {
        unsafe(reason = "a", allow = [drop_column]) {
            unsafe(reason = "b", allow = [drop_table]) {
                drop table sessions;
            }
            alter table users drop column legacy_flag;
        }
    }
}

fn main() {}
