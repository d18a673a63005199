#!/usr/bin/env bash
# Install FerretDB v1.24.2 (a MongoDB-protocol server with an SQLite backend) for the
# integration tests, idempotently, into the Go bin directory ($GOBIN or $(go env GOPATH)/bin).
#
# Why not plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: the module
# zip lacks the generated build/version/version.txt, so that binary panics at start-up
# ("Invalid build/version/version.txt file content"). We build from a writable copy of the
# module source with that file written, which is what FerretDB's own `bin/task gen-version` does.
#
# Usage: scripts/install_ferretdb.sh        (prints the path of the working binary)
# Needs: go >= 1.24 and network access to the Go module proxy (unless the module is cached).
set -euo pipefail

VERSION="v1.24.2"
MODULE="github.com/FerretDB/FerretDB"

say() { printf 'install_ferretdb: %s\n' "$*" >&2; }

# True if the binary at $1 runs and reports $VERSION.
is_wanted_version() {
    local reported
    [ -x "$1" ] || return 1
    # capture first: `grep -q` in a pipe may SIGPIPE the binary, which pipefail reports
    reported="$("$1" --version 2>/dev/null)" || return 1
    grep -qx "version: ${VERSION}" <<<"$reported"
}

go_bin_dir() {
    local gobin
    gobin="$(go env GOBIN)"
    if [ -n "$gobin" ]; then printf '%s\n' "$gobin"; else printf '%s/bin\n' "$(go env GOPATH)"; fi
}

# 1. Already installed (on PATH, or in the Go bin dir)?
candidates=()
if on_path="$(command -v ferretdb 2>/dev/null)"; then candidates+=("$on_path"); fi
if command -v go >/dev/null 2>&1; then
    candidates+=("$(go_bin_dir)/ferretdb")
else
    candidates+=("${GOBIN:-${GOPATH:-$HOME/go}/bin}/ferretdb")  # Go's defaults
fi
for candidate in "${candidates[@]}"; do
    if is_wanted_version "$candidate"; then
        say "FerretDB ${VERSION} already installed"
        printf '%s\n' "$candidate"
        exit 0
    fi
done

# 2. Build it.
if ! command -v go >/dev/null 2>&1; then
    say "the Go toolchain is needed to build FerretDB ${VERSION}: install Go >= 1.24 (https://go.dev/dl/)"
    exit 1
fi
bin_dir="$(go_bin_dir)"
mkdir -p "$bin_dir"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT

say "downloading ${MODULE}@${VERSION}"
source_dir="$(cd "$work" && go mod download -json "${MODULE}@${VERSION}" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$source_dir" ] || [ ! -d "$source_dir" ]; then
    say "could not download ${MODULE}@${VERSION}; check network access to \$GOPROXY ($(go env GOPROXY))"
    exit 1
fi

say "building from a writable copy of ${source_dir}"
cp -R "$source_dir" "$work/src"
chmod -R u+w "$work/src"
printf '%s\n' "$VERSION" >"$work/src/build/version/version.txt"
(cd "$work/src" && go build -trimpath -o "$work/ferretdb" ./cmd/ferretdb)

if ! is_wanted_version "$work/ferretdb"; then
    say "the freshly built binary does not report ${VERSION}; output of --version:"
    "$work/ferretdb" --version >&2 || true
    exit 1
fi
# Rename into place so a concurrent run never sees a half-written binary.
cp "$work/ferretdb" "$bin_dir/.ferretdb.$$"
mv -f "$bin_dir/.ferretdb.$$" "$bin_dir/ferretdb"
say "installed FerretDB ${VERSION}"
printf '%s\n' "$bin_dir/ferretdb"
