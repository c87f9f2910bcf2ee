#!/usr/bin/env bash
# Runs every rkv test: formatting, vet, the race detector on the core
# packages, then the whole suite (Raft simulation, integration tests against
# real processes, redis-cli, go-redis, redis-py and redis-benchmark).
# Installs the Debian packages the tests need when they are missing.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null || missing+=(redis-tools)
/usr/bin/python3 -c 'import redis' 2>/dev/null || missing+=(python3-redis)
if ((${#missing[@]})); then
	echo "test.sh: installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-clean:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== go test -race (consensus, wal, store, resp, replica, script, metrics)"
go test -race -count=1 ./consensus/... ./wal/... ./store/... ./resp/... ./replica/... ./script/... ./metrics/...
echo "== go test (simulation at full seed count, integration, bench harness)"
go test -count=1 -timeout 20m ./...
