//! Compile time: `cargo check` of a crate with 200 `migration!` invocations, and of one with the same
//! 200 migrations in one `migrations!` set (checked against the schema it builds), against the same
//! crate with the SQL as plain string constants.
//!
//! Both crates are generated under the scratch directory, depend on this workspace by path (without
//! default features: the plan model only, as a crate holding only migrations would) and share one
//! target directory and this workspace's `Cargo.lock`, so dependencies are built once and are the
//! same. Each is checked once cold (dependencies included), then `reps` times after an edit of its
//! `lib.rs` (a comment line changes): that incremental check is what a developer waits for, and the
//! difference between the two crates is the macro's cost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::migrations::MIGRATIONS;
use crate::runner::migration_sql;

/// The macro crate's source: the very file the runner benchmark compiles.
const MACRO_LIB: &str = include_str!("migrations.rs");

fn strings_lib() -> String {
    let mut src = String::from(
        "//! The same 200 migrations as plain SQL string constants.\n\n\
         /// `(version, name, sql)`, in version order.\n\
         pub static MIGRATIONS: &[(u64, &str, &str)] = &[\n",
    );
    for m in MIGRATIONS {
        src.push_str(&format!(
            "    (M{:04}.0, M{:04}.1, M{:04}.2),\n",
            m.version, m.version, m.version
        ));
    }
    src.push_str("];\n\n");
    for m in MIGRATIONS {
        src.push_str(&format!(
            "/// Migration {}.\npub const M{:04}: (u64, &str, &str) = ({}, {:?}, {:?});\n",
            m.version,
            m.version,
            m.version,
            m.name,
            migration_sql(m)
        ));
    }
    src
}

/// The same 200 migrations as one `migrations!` set. `EDIT` marks the end of the newest migration,
/// where an edit adds a statement.
fn set_lib() -> String {
    let mut src = String::from(
        "//! The same 200 migrations as one `migrations!` set.\n\nzerodown::migrations! {\n",
    );
    for m in MIGRATIONS {
        let table = format!("t{:04}", m.version);
        src.push_str(&format!(
            "    pub mod m{v:04}_{table} {{\n        create table {table} (\n            id bigint generated always as identity primary key,\n            name text not null,\n            created_at timestamptz not null default now()\n        );\n        create index {table}_name_idx on {table} (name);\n",
            v = m.version
        ));
        if m.version == MIGRATIONS.len() as u64 {
            src.push_str("        // EDIT\n");
        }
        src.push_str("    }\n");
    }
    src.push_str("}\n");
    src
}

fn manifest(name: &str, workspace: &Path) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nzerodown = {{ path = {:?}, default-features = false }}\n\n\
         # Its own workspace, not a member of the one it sits in.\n[workspace]\n",
        workspace.display().to_string()
    )
}

/// A generated crate.
struct Crate {
    dir: PathBuf,
    lib: String,
}

impl Crate {
    fn create(dir: PathBuf, name: &str, lib: String, workspace: &Path) -> Result<Crate, String> {
        std::fs::create_dir_all(dir.join("src"))
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))
        };
        write(dir.join("Cargo.toml"), &manifest(name, workspace))?;
        std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock"))
            .map_err(|e| format!("copying Cargo.lock: {e}"))?;
        write(dir.join("src/lib.rs"), &lib)?;
        Ok(Crate { dir, lib })
    }

    /// Changes a comment line, so the next check has work to do.
    fn edit(&self, n: usize) -> Result<(), String> {
        let path = self.dir.join("src/lib.rs");
        std::fs::write(&path, format!("{}\n// edit {n}\n", self.lib))
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Edits the newest migration of a set: a statement that differs each time, so the macro's input
    /// changes (a comment would not reach it).
    fn edit_newest(&self, n: usize) -> Result<(), String> {
        let path = self.dir.join("src/lib.rs");
        let table = format!("t{:04}", MIGRATIONS.len());
        let lib = self.lib.replace(
            "// EDIT",
            &format!("comment on table {table} is \"edit {n}\";"),
        );
        std::fs::write(&path, lib).map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// `cargo clean -p` of this crate only: its dependencies stay built.
    fn clean(&self, target: &Path) -> Result<(), String> {
        let name = format!(
            "zd_bench_{}",
            self.dir.file_name().and_then(|n| n.to_str()).unwrap_or("")
        );
        let out = self
            .cargo(target)
            .args(["clean", "--offline", "--quiet", "-p", &name])
            .output()
            .map_err(|e| format!("running cargo clean: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`cargo clean -p {name}` failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// `cargo` in this crate's directory, with the shared target directory and none of the
    /// environment `cargo run` gave this example.
    fn cargo(&self, target: &Path) -> Command {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.dir);
        for (key, _) in std::env::vars() {
            if key.starts_with("CARGO_") && key != "CARGO_HOME" {
                cmd.env_remove(key);
            }
        }
        cmd.env("CARGO_TARGET_DIR", target);
        cmd
    }

    fn check(&self, target: &Path) -> Result<Duration, String> {
        let mut cmd = self.cargo(target);
        cmd.args(["check", "--offline", "--quiet"]);
        let started = Instant::now();
        let out = cmd
            .output()
            .map_err(|e| format!("running cargo check: {e}"))?;
        let took = started.elapsed();
        if !out.status.success() {
            return Err(format!(
                "`cargo check` failed in {}:\n{}",
                self.dir.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(took)
    }
}

/// The figures of the compile benchmark (the first checks are printed, not kept).
#[derive(Debug, Clone)]
pub struct CompileMeasured {
    pub macro_incremental: Duration,
    pub strings_incremental: Duration,
    /// The set crate after an edit of its newest migration.
    pub set_incremental: Duration,
    /// The set crate checked from clean (its dependencies built): the median of `reps` checks after
    /// `cargo clean -p` of the crate.
    pub set_clean: Duration,
    pub samples: usize,
}

pub fn bench(reps: usize, scratch: &Path) -> Result<CompileMeasured, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = scratch.join("compile");
    let target = base.join("target");
    let with_macro = Crate::create(
        base.join("with_macro"),
        "zd_bench_with_macro",
        MACRO_LIB.to_owned(),
        workspace,
    )?;
    let with_strings = Crate::create(
        base.join("with_strings"),
        "zd_bench_with_strings",
        strings_lib(),
        workspace,
    )?;
    let with_set = Crate::create(
        base.join("with_set"),
        "zd_bench_with_set",
        set_lib(),
        workspace,
    )?;

    // Cold: the first also builds the shared dependencies (nothing to do when an earlier run did).
    let strings_cold = with_strings.check(&target)?;
    let macro_cold = with_macro.check(&target)?;
    println!(
        "  first checks: with strings {:.2} s (builds the shared dependencies if needed), then with macro {:.2} s",
        strings_cold.as_secs_f64(),
        macro_cold.as_secs_f64()
    );

    let set_cold = with_set.check(&target)?;
    println!("  first check of the set: {:.2} s", set_cold.as_secs_f64());

    let (mut m, mut s, mut set, mut clean) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        with_macro.edit(rep)?;
        m.push(with_macro.check(&target)?);
        with_strings.edit(rep)?;
        s.push(with_strings.check(&target)?);
        with_set.edit_newest(rep)?;
        set.push(with_set.check(&target)?);
        with_set.clean(&target)?;
        clean.push(with_set.check(&target)?);
        println!(
            "  edit {}: with macro {:.3} s, with strings {:.3} s, set (newest migration edited) {:.3} s, set from clean {:.3} s",
            rep + 1,
            m[rep].as_secs_f64(),
            s[rep].as_secs_f64(),
            set[rep].as_secs_f64(),
            clean[rep].as_secs_f64()
        );
    }
    Ok(CompileMeasured {
        macro_incremental: crate::median(&mut m),
        strings_incremental: crate::median(&mut s),
        set_incremental: crate::median(&mut set),
        set_clean: crate::median(&mut clean),
        samples: reps,
    })
}
