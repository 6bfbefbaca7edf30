zerodown::migration! {
    pub mod m0001_blank_reason {
        unsafe(reason = "", allow = [drop_column]) {
            alter table users drop column legacy_flag;
        }
    }
}

fn main() {}
