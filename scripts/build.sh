#!/usr/bin/env bash
# npm run build: compiles lib/ into dist/, unless dist/ is already newer than everything it is built from.
# The scripts that tests run side by side (the sample, the package check) build too; a second tsc
# rewriting dist/ while another test's app imported it once gave that app half-written modules.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=node_modules/.cache/nestjs-consul-kit/dist-built
if [ "${1:-}" != "--force" ] && [ -f "$stamp" ] && [ -f dist/index.js ] &&
  [ -z "$(find lib tsconfig.json tsconfig.build.json package.json -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
mkdir -p "$(dirname "$stamp")"
rm -f "$stamp"
touch "$stamp.next" # taken before compiling: a source saved meanwhile is newer and rebuilds next time
# From scratch: tsc never deletes the output of a source that was moved or removed, and npm pack would ship it.
rm -rf dist
npx tsc -p tsconfig.build.json
mv "$stamp.next" "$stamp"
