zerodown::migration! {
    pub mod m0001_empty_allow {
        unsafe(reason = "column unused since v42", allow = []) {
            alter table users drop column legacy_flag;
        }
    }
}

fn main() {}
