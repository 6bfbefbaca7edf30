//! Hand-built plans (the macro is not used here), with correct checksums.

use zerodown_runtime::plan::{
    Checksum, LockLevel, Migration, PgVersion, Phase, Postcondition, Settings, Step, StepKind,
    Transaction, Undo,
};

pub fn leak(s: impl Into<String>) -> &'static str {
    Box::leak(s.into().into_boxed_str())
}

fn leak_strs(items: &[&str]) -> &'static [&'static str] {
    Box::leak(
        items
            .iter()
            .map(|s| leak(*s))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

/// Settings for tests: the defaults with a short retry budget so failures come quickly, targeting the
/// oldest supported server because the hand-written SQL of these plans runs on every version (the
/// suites run against PostgreSQL 10 to 18).
pub fn settings() -> Settings {
    Settings {
        retry_budget_ms: 20_000,
        target: PgVersion::OLDEST_SUPPORTED,
        ..Settings::DEFAULT
    }
}

/// A migration with the checksum `migration!` would compute.
pub fn migration(
    version: u64,
    name: &str,
    settings: Settings,
    expand: Vec<Step>,
    contract: Vec<Step>,
) -> &'static Migration {
    let mut m = Migration {
        version,
        name: leak(name),
        description: leak(format!("test migration {version}")),
        settings,
        expand: Phase {
            steps: Box::leak(expand.into_boxed_slice()),
        },
        contract: Phase {
            steps: Box::leak(contract.into_boxed_slice()),
        },
        rollback: Phase::EMPTY,
        undo: Undo::NONE,
        touches: &[],
        chosen_names: &[],
        expected_tables: &[],
        checksum: Checksum([0; 32]),
        legacy_checksums: &[],
    };
    m.checksum = m.compute_checksum();
    Box::leak(Box::new(m))
}

/// A transactional step.
pub fn tx(description: &str, statements: &[&str], lock: LockLevel, tables: &[&str]) -> Step {
    Step {
        description: leak(description),
        statements: leak_strs(statements),
        transaction: Transaction::Transactional,
        lock,
        tables: leak_strs(tables),
        rewrites: false,
        lock_timeout_ms: 1_000,
        statement_timeout_ms: 30_000,
        kind: StepKind::Sql,
        postcondition: Postcondition::None,
    }
}

/// A `create [unique] index concurrently` step, as the macro lowers it.
pub fn cic(index: &str, table: &str, key_sql: &str, unique: bool) -> Step {
    let index = leak(index);
    let table = leak(table);
    let key_sql = leak(key_sql);
    let unique_sql = if unique { "UNIQUE " } else { "" };
    Step {
        description: leak(format!("build index \"{index}\" concurrently")),
        statements: leak_strs(&[&format!(
            "CREATE {unique_sql}INDEX CONCURRENTLY \"{index}\" ON \"{table}\" ({key_sql})"
        )]),
        transaction: Transaction::Alone,
        lock: LockLevel::ShareUpdateExclusive,
        tables: leak_strs(&[&format!("\"{table}\"")]),
        rewrites: false,
        lock_timeout_ms: 60_000,
        statement_timeout_ms: 6 * 60 * 60 * 1000,
        kind: StepKind::ConcurrentIndex {
            schema: "",
            index,
            table: leak(format!("\"{table}\"")),
            key_sql,
            unique,
        },
        postcondition: Postcondition::IndexValid { schema: "", index },
    }
}
