#!/usr/bin/env bash
# `make audit`: detect-secrets over the tracked files, then pip-audit over every requirements file.
#
# The secret scan is offline and always runs: a finding that is not in .secrets.baseline (the reviewed false
# positives: test passwords, example tokens) fails. pip-audit asks PyPI's advisory API (/pypi/<name>/<version>/json),
# which these machines cannot reach: then it says so, and this exits 0 only because it was skipped, unless
# REQUIRE_AUDIT is set (CI on GitHub sets it), where an unreachable service fails like a finding does.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${TOOLS:-.venv-tools}

# --- secrets -------------------------------------------------------------------------------------------------------
# The hook rewrites its baseline when only line numbers moved (exit 3): give it a copy, so that is not a failure.
baseline=$(mktemp)
trap 'rm -f "$baseline"' EXIT
cp .secrets.baseline "$baseline"
status=0
# The files as arguments of one call, not through xargs, which would turn the hook's exit 3 into its own 123.
mapfile -d '' tracked < <(git ls-files -z -- . ":!.secrets.baseline")
"$tools/bin/detect-secrets-hook" --baseline "$baseline" "${tracked[@]}" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
  echo "error: detect-secrets found the secrets above. Remove them (and rotate them if they were real), or, for a" \
       "false positive, add '# pragma: allowlist secret' to its line or run" \
       "'$tools/bin/detect-secrets scan --baseline .secrets.baseline' and commit .secrets.baseline" >&2
  exit 1
fi
echo "secrets: $(git ls-files -- . ":!.secrets.baseline" | wc -l | tr -d ' ') tracked files scanned, nothing beyond .secrets.baseline"

# --- known vulnerabilities -----------------------------------------------------------------------------------------
locks=(layers/*/requirements.txt functions/*/requirements.txt)
pinned=(requirements-*.txt)
probe=https://pypi.org/pypi/idna/3.10/json
if ! reason=$("$tools/bin/python" - "$probe" <<'EOF'
import json, sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=15) as response:
        if "vulnerabilities" not in json.load(response):
            sys.exit(print(f"{sys.argv[1]} answered without a 'vulnerabilities' field") or 1)
except urllib.error.HTTPError as error:
    sys.exit(print(f"{sys.argv[1]} answered HTTP {error.code}") or 1)
except (OSError, ValueError) as error:
    sys.exit(print(f"{sys.argv[1]} is unreachable ({error})") or 1)
EOF
); then
  reason=$(printf '%s' "$reason" | tail -n 1)
  if [ -n "${REQUIRE_AUDIT:-}" ]; then
    echo "error: pip-audit cannot run: PyPI's advisory API $reason" >&2
    exit 1
  fi
  echo "pip-audit skipped: PyPI's advisory API $reason, so ${#pinned[@]} requirements files and ${#locks[@]} locks" \
       "were NOT checked for known vulnerabilities here; CI on GitHub runs this with REQUIRE_AUDIT=1 and fails on" \
       "any finding" >&2
  exit 0
fi

failed=()
for lock in "${locks[@]}"; do
  # Every package is pinned with hashes: audit exactly those, without installing anything (they are for aarch64).
  echo "pip-audit: $lock"
  "$tools/bin/pip-audit" --strict --progress-spinner off --disable-pip --require-hashes -r "$lock" || failed+=("$lock")
done
for file in "${pinned[@]}"; do
  # Top-level pins only: pip-audit resolves the rest (in a virtualenv of its own) and audits all of it.
  echo "pip-audit: $file"
  "$tools/bin/pip-audit" --strict --progress-spinner off -r "$file" || failed+=("$file")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "error: pip-audit failed for ${failed[*]}: bump the package in the file named (a requirements.in, then" \
       "'make lock', for a lock), or, with a reason, pass --ignore-vuln ID here" >&2
  exit 1
fi
echo "pip-audit: ${#locks[@]} locks and ${#pinned[@]} requirements files, no known vulnerabilities"
