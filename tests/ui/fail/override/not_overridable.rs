zerodown::migration! {
    pub mod m0001_not_overridable {
        unsafe(reason = "batch job", allow = [raw_transaction_control]) {
            raw(reason = "batches") "update t set a = 1";
        }
    }
}

fn main() {}
