#!/usr/bin/env bash
# Installs the system packages the tests use when they are missing: PostgreSQL (the second database
# backend), Chromium (the browser tests), Redis and nginx (the multi-process integration suite), espeak-ng (the display's server voice). Needs root and apt-get; otherwise says what is missing,
# and the tests that need it are skipped (or fail, with CALLWISE_REQUIRE_PG=1 /
# CALLWISE_REQUIRE_BROWSER=1 as in CI).
set -euo pipefail

missing=()
if ! command -v pg_ctl >/dev/null && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
if ! command -v redis-server >/dev/null; then
  missing+=(redis-server)
fi
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  missing+=(nginx-light)
fi

if ! command -v espeak-ng >/dev/null; then
  missing+=(espeak-ng)  # the lobby display's server voice (make test requires it)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "note: missing ${missing[*]} (install with apt-get as root); the tests that need them will be skipped" >&2
fi
