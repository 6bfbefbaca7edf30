zerodown::migration! {
    pub mod m0001_raw_transaction_control_in_override {
        unsafe(reason = "small table", allow = [truncate]) {
            truncate flags;
            raw(reason = "reset") "start transaction; select 1";
        }
    }
}

fn main() {}
