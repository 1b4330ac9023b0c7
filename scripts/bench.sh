#!/usr/bin/env bash
# Runs the benchmarks against the local test services and prints the
# machine they ran on, for docs/benchmarks.md.
#
# Usage: scripts/bench.sh   (or make bench)
#
# - reactor/: outbox latency and burst, new-mail latency.
# - cmd/reactor/: 1,000 and 10,000 IDLE watchers against tools/imapload in
#   another process: memory per watcher, idle CPU, time to bring them up.
#   MAILREACTOR_BENCH_WATCHERS sets the sizes.
# - reconcile/: the first sync of a 10,000-message INBOX of about 10 KB
#   each, in process and as a `reactor run` process. Next to it, mbsync
#   pulls the same mailbox into an empty Maildir, with FSync yes and with
#   FSync no. Without mbsync (Debian: apt-get install isync) those skip.
#
# Each benchmark measures a fixed amount of work whatever b.N is, so they
# run once (-benchtime 1x). Other load on the machine skews the figures:
# the load average is printed before and after.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
"$REPO/scripts/testenv.sh" up >/dev/null
# shellcheck source=/dev/null
. "$REPO/.testenv/env.sh"

echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
echo "memory:  $(free -g | awk '/^Mem:/ {print $2 " GB total, " $7 " GB available"}')"
echo "go:      $(go env GOVERSION)"
echo "dovecot: $(dovecot --version 2>/dev/null || echo unknown)"
echo "mbsync:  $(mbsync --version 2>/dev/null || echo 'not installed: apt-get install isync')"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
echo

MAILREACTOR_TEST_REQUIRE=1 go test -run '^$' -bench . -benchtime 1x -timeout 30m ./reactor/ ./reconcile/
MAILREACTOR_TEST_REQUIRE=1 MAILREACTOR_BENCH_WATCHERS=${MAILREACTOR_BENCH_WATCHERS:-1000,10000} \
	go test -run '^$' -bench IdleWatchers -benchtime 1x -timeout 30m ./cmd/reactor/

echo
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
