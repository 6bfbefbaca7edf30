zerodown::migration! {
    pub mod m0001_unknown_rule {
        unsafe(reason = "column unused since v42", allow = [drop_colum]) {
            alter table users drop column legacy_flag;
        }
    }
}

fn main() {}
