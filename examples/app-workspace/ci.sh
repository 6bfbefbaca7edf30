#!/usr/bin/env bash
# Builds and tests the example the way its README says: migrate a database of its own with the
# `migrate` binary, then build the application (whose `sqlx::query!` calls check against it) and run
# its tests. Uses the server in DATABASE_URL, else 127.0.0.1:5432 as postgres.
set -euo pipefail
cd "$(dirname "$0")"
server=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
server=${server%%\?*}
db=zd_app_workspace_example
psql -q -v ON_ERROR_STOP=1 "$server" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -q "$server" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
export DATABASE_URL="${server%/*}/$db"
# Share the repository's build directory: most dependencies are built already.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-../../target}
cargo run -q -p shop-migrations --bin migrate -- run --complete
# The database now matches the schema the migrations build (exit 4 and the differences otherwise).
cargo run -q -p shop-migrations --bin migrate -- schema --check
cargo test -p shop-app
