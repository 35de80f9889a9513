#!/usr/bin/env bash
# npm test: every phase, then one closing line `N passed, N failed` summed over all of them
# (scripts/test-summary.mjs), exiting non-zero if any phase failed.
#
#   unit+e2e     Jest, Nest 12, two workers
#   reliability  Jest, one suite at a time (3-server clusters on two cores)
#   nest11       the e2e suites again on Nest 11 (scripts/test-nest11.sh)
#
# Each phase is a Jest run that writes its counts as JSON (--json --outputFile). Every phase runs
# even when one before it failed, so the closing line counts everything.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# name|exit code|JSON file, one line per phase, read by the summary at the end.
phases=()
run_phase() {
  local name=$1
  shift
  local json="$results/$name.json"
  printf '\n=== npm test: %s ===\n' "$name"
  "$@" --json --outputFile="$json"
  phases+=("$name|$?|$json")
}

if ! bash scripts/consul.sh ensure >/dev/null || ! npm run build --silent; then
  phases+=("setup|1|")
else
  run_phase unit+e2e npm run test:jest --silent -- --selectProjects unit e2e
  run_phase reliability npm run test:jest --silent -- --selectProjects reliability --runInBand
  run_phase nest11 bash scripts/test-nest11.sh
fi

printf '%s\n' "${phases[@]}" | node scripts/test-summary.mjs
