#!/usr/bin/env bash
# Runs the integration suite against NestJS 11 (the older supported major): a copy of the repo in a
# temporary folder with the Nest 11 packages installed instead of Nest 12, against real Consul agents.
# Arguments go to Jest (npm test passes --json --outputFile=… to count the tests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp -r "$root"/{lib,test,proto,scripts,sample,jest.config.js,tsconfig.json,tsconfig.build.json,package.json} "$work/"
rm -rf "$work/sample/dist"
cd "$work"
# Nest 11 in place of 12; everything else as the repo pins it.
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const eleven = { "@nestjs/common": "^11", "@nestjs/core": "^11", "@nestjs/microservices": "^11",
    "@nestjs/platform-express": "^11", "@nestjs/platform-fastify": "^11", "@nestjs/testing": "^11", "@nestjs/terminus": "^11", "@nestjs/config": "^4" };
  Object.assign(p.devDependencies, eleven);
  fs.writeFileSync("package.json", JSON.stringify(p, null, 2));'
npm install --no-audit --no-fund --prefer-offline >install.log 2>&1 || { tail -n 30 install.log >&2; exit 1; }
printf 'test-nest11: running the integration suite on @nestjs/core %s, @nestjs/terminus %s\n' \
  "$(node -p 'require("@nestjs/core/package.json").version')" "$(node -p 'require("@nestjs/terminus/package.json").version')"
export CONSUL_BIN="${CONSUL_BIN:-$(bash "$root/scripts/consul.sh" ensure)}"
npm run build --silent
npm run test:jest --silent -- --selectProjects e2e "$@"
