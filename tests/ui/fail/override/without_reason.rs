zerodown::migration! {
    pub mod m0001_without_reason {
        unsafe(allow = [drop_column]) {
            alter table users drop column legacy_flag;
        }
    }
}

fn main() {}
