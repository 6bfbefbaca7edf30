// A column named like a keyword (`end`) is written `r#end` in expressions.
zerodown::migration! {
    pub mod m0001_keyword_column {
        backfill bookings set minutes = r#end - start where minutes is null;
    }
}

fn main() {
    let step = &m0001_keyword_column::MIGRATION.expand.steps[0];
    let zerodown::plan::StepKind::Backfill(b) = step.kind else {
        panic!("a backfill step: {step:?}")
    };
    assert!(b.set_sql.contains("\"end\" - \"start\""), "{}", b.set_sql);
}
