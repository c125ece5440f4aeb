#!/usr/bin/env bash
# The dependency rule (docs/ARCHITECTURE.md): inner crates must not pull in outer technology.
# Fails when a forbidden crate appears among a crate's normal (non-dev, non-build) dependencies,
# when a surface module of tally_http imports another surface (or the shared layer imports a
# surface), and when a module of tally_http imports a module that imports it back.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0

# forbid <package> <regex of crate names>...
forbid() {
    local package=$1
    shift
    local deps
    deps=$(cargo tree -p "$package" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
    for pattern in "$@"; do
        local hits
        hits=$(grep -E "^(${pattern})$" <<<"$deps" || true)
        if [[ -n $hits ]]; then
            echo "deps-check: $package must not depend on: $(tr '\n' ' ' <<<"$hits")" >&2
            status=1
        fi
    done
}

forbid tally_domain 'actix.*' 'diesel.*' 'tokio.*' 'jsonwebtoken' 'config' 'r2d2' 'tally_(store_mem|store_pg|auth|http|testkit)'
forbid tally_store_mem 'diesel.*' 'r2d2' 'actix.*' 'tally_(store_pg|http)'
forbid tally_auth 'actix.*' 'diesel.*' 'r2d2' 'tally_(store_mem|store_pg|http)'
forbid tally_http 'diesel.*' 'r2d2' 'tally_(store_mem|store_pg|testkit)'

# The layers inside tally_http: the six surfaces and the dashboard (`ui`) side by side above the shared layer
# (scripts/module_graph.py reads the `use crate::…`/`super::…` paths of every file).
HTTP_SURFACES=(lcyt ledger meetbot lyrcs newapi v1 ui)
python3 scripts/module_graph.py layers crates/http/src "${HTTP_SURFACES[@]}" || status=1
python3 scripts/module_graph.py cycles crates/http/src || status=1
python3 scripts/module_graph.py cycles crates/store_pg/src || status=1

if [[ $status -eq 0 ]]; then
    echo "deps-check: ok"
fi
exit $status
