#!/usr/bin/env bash
# Installs the packed package into a fresh app, the way a user does, and checks that it loads as ESM and
# through require() (CommonJS apps, Node's require(esm)), that its types compile in an ESM and a CommonJS
# consumer on TypeScript 5, 6 and 7, that no dev-only package leaks into the public declarations, and that
# no test-only file (spec, test helper, fixture, sample) is packed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

step() { printf 'check-package: %s\n' "$*"; }
fail() { printf 'check-package: FAILED: %s\n' "$*" >&2; exit 1; }

npm run build --silent
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
step "packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"

# Nothing test-only in the tarball: no folder named like a test area (test/, __tests__/, fixtures/, e2e/,
# sample/, bench/…) and no file whose name has a test word as a whole part, split on - _ . (foo.spec.js,
# test-instances.js, foo.e2e-spec.js, mock-agent.js, fixtures.json); `latest.js` or `testing/` pass.
# The rule is checked on known names first, so a broken regex cannot pass everything.
test_only() {
  grep -Ei '(^|/)(tests?|__tests__|__mocks__|__fixtures__|fixtures?|e2e|samples?|bench|benchmarks?|coverage)/|(^|/)([^/]*[-_.])?(tests?|specs?|e2e-spec|rel-spec|fixtures?|mocks?|fakes?|stubs?)([-_.][^/]*)?$' || true
}
rule_check=$(printf '%s\n' dist/a.spec.js dist/a.spec.d.ts dist/balancing/test-instances.js dist/x.e2e-spec.js \
  dist/mock-agent.js dist/test/x.js dist/fixtures/a.proto dist/x_test.js sample/main.js \
  dist/latest.js dist/testing/index.js dist/contest.js dist/index.d.ts proto/grpc/health/v1/health.proto | test_only)
[ "$(tr '\n' ' ' <<<"$rule_check")" = "dist/a.spec.js dist/a.spec.d.ts dist/balancing/test-instances.js dist/x.e2e-spec.js dist/mock-agent.js dist/test/x.js dist/fixtures/a.proto dist/x_test.js sample/main.js " ] ||
  fail "the test-only file rule misjudges known names: $rule_check"
contents=$(tar -tzf "$work/$tarball" | sed 's#^package/##')
grep -qx 'proto/grpc/health/v1/health.proto' <<<"$contents" || fail "proto/grpc/health/v1/health.proto is not packed"
packed_tests=$(test_only <<<"$contents")
[ -z "$packed_tests" ] || fail "test-only files are packed: $(tr '\n' ' ' <<<"$packed_tests")"
step "no test-only file is packed ($(wc -l <<<"$contents") files)"

# Public declarations may import only Node built-ins, dependencies and peer dependencies.
allowed=$(node -e 'const p = require("./package.json"); console.log(Object.keys({ ...p.dependencies, ...p.peerDependencies }).join("\n"))')
leaks=$(grep -rhoE "from '[^'.][^']*'|import\('[^'.][^']*'\)" dist --include='*.d.ts' | grep -oE "'[^']+'" | tr -d "'" | sort -u |
  while read -r spec; do
    pkg=$(awk -F/ '{ if ($1 ~ /^@/) print $1 "/" $2; else print $1 }' <<<"$spec")
    [[ "$pkg" == node:* ]] || grep -qx "$pkg" <<<"$allowed" || echo "$spec"
  done)
[ -z "$leaks" ] || fail "public .d.ts files import packages users do not get: $leaks"
step "declarations import only dependencies and peers"

app="$work/app"
mkdir -p "$app" && cd "$app"
echo '{ "name": "consumer", "private": true, "type": "module" }' >package.json
# The same versions the repo tests with, so the check is about packaging, not about a new release.
version() { node -p 'require("'"$root"'/node_modules/'"$1"'/package.json").version'; }
peers=()
for pkg in @nestjs/common @nestjs/core @nestjs/microservices @nestjs/platform-express @nestjs/terminus reflect-metadata rxjs; do
  peers+=("$pkg@$(version "$pkg")")
done
# TypeScript majors side by side (npm aliases): 7 is the native (Go) compiler, published as typescript@7.
# 5.7 is the last 5.x before `module: nodenext` allowed a CommonJS file to import an ES module (5.8).
typescripts=(ts7@npm:typescript@~7.0.2 ts6@npm:typescript@~6.0.3 ts59@npm:typescript@~5.9.3 ts57@npm:typescript@~5.7.3)
npm install --no-audit --no-fund --prefer-offline "$work/$tarball" "${peers[@]}" "${typescripts[@]}" @types/node@^20 \
  >"$work/install.log" 2>&1 || { tail -n 20 "$work/install.log" >&2; fail "npm install of the tarball into a fresh app failed"; }
nest=$(version @nestjs/core)
step "installed into a fresh app with its peers (Nest $nest)"

node --input-type=module -e '
  import "reflect-metadata";
  import { ConsulModule, ConsulDiscoveryService, withGrpcHealth, GRPC_HEALTH_PROTO_PATH } from "nestjs-consul-kit";
  import { existsSync } from "node:fs";
  if (typeof ConsulModule.forRoot !== "function" || typeof ConsulDiscoveryService !== "function") throw new Error("exports missing");
  if (!existsSync(GRPC_HEALTH_PROTO_PATH)) throw new Error("health proto not found at " + GRPC_HEALTH_PROTO_PATH);
  if (!withGrpcHealth({ package: "x" }).package.includes("grpc.health.v1")) throw new Error("withGrpcHealth");
' || fail "import as ESM"
step "imports as ESM"

node --no-warnings -e '
  require("reflect-metadata");
  const kit = require("nestjs-consul-kit");
  if (typeof kit.ConsulModule.forRoot !== "function") throw new Error("require() gave no ConsulModule");
' || fail "require() from CommonJS"
step "loads through require() from CommonJS"

cat >consumer.ts <<'TS'
import { Injectable, Module } from '@nestjs/common';
import { Transport } from '@nestjs/microservices';
import {
  type ConfigChange,
  ConsulConfigService,
  ConsulDiscoveryService,
  ConsulHttpClient,
  ConsulModule,
  ConsulService,
  type ServiceInstance,
  OnConsulConfigChange,
} from 'nestjs-consul-kit';

@Injectable()
class Consumer {
  constructor(
    private readonly discovery: ConsulDiscoveryService,
    private readonly config: ConsulConfigService,
    @ConsulService('user_api') private readonly api: ConsulHttpClient,
  ) {}
  async pick(): Promise<ServiceInstance> {
    return this.discovery.choose('user_service', { tags: ['user'] });
  }
  greeting(): string {
    return this.config.get<string>('greeting', 'hi');
  }
  @OnConsulConfigChange('greeting')
  changed(change: ConfigChange) {
    return change.current;
  }
  users() {
    return this.api.get<Array<{ id: number }>>('/users');
  }
}

@Module({
  imports: [
    ConsulModule.forRoot({ service: { name: 'user_api', check: { type: 'http', interval: '10s' } }, config: { profiles: [] } }),
    ConsulModule.forFeature([{ service: 'user_api', transport: 'http', options: { timeout: '2s' } }, { service: 'orders', transport: Transport.TCP }]),
  ],
  providers: [Consumer],
})
export class AppModule {}
TS
cat >tsconfig.json <<'TS'
{ "compilerOptions": { "target": "ES2023", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true,
  "experimentalDecorators": true, "emitDecoratorMetadata": true, "skipLibCheck": false, "noEmit": true, "types": ["node"] },
  "files": ["consumer.ts"] }
TS
mkdir -p cjs && cp consumer.ts cjs/consumer.ts && echo '{ "type": "commonjs" }' >cjs/package.json
sed 's#"files": \["consumer.ts"\]#"files": ["cjs/consumer.ts"]#' tsconfig.json >tsconfig.cjs.json
# What a CommonJS app on TypeScript < 5.8 needs (see below): classic resolution, which reads "types" and
# does not know the package is ESM; Node's require(esm) loads it at run time.
sed 's#"module": "NodeNext", "moduleResolution": "NodeNext"#"module": "CommonJS", "moduleResolution": "Node10"#' \
  tsconfig.cjs.json >tsconfig.cjs-node10.json
tsc() { node "node_modules/$1/bin/tsc" -p "$2" 2>&1; }
for ts in ts7 ts6 ts59 ts57; do
  version=$(node -p "require('./node_modules/$ts/package.json').version")
  out=$(tsc "$ts" tsconfig.json) || fail "TypeScript $version: the declarations do not compile in an ESM consumer (skipLibCheck off): $out"
  case "$ts" in
  ts57)
    # Before 5.8, `module: nodenext` refuses any import of an ES module from a CommonJS file (TS1479),
    # whatever the package ships. Pinned here, so the README's advice stays true.
    out=$(tsc "$ts" tsconfig.cjs.json) && fail "TypeScript $version: expected TS1479 in a CommonJS nodenext consumer, it compiled"
    grep -q 'error TS1479' <<<"$out" || fail "TypeScript $version: a CommonJS nodenext consumer failed, but not with TS1479: $out"
    out=$(tsc "$ts" tsconfig.cjs-node10.json) ||
      fail "TypeScript $version: the declarations do not compile in a CommonJS consumer (module commonjs, moduleResolution node10): $out"
    step "types compile on TypeScript $version in an ESM consumer and a CommonJS one (node10 resolution; nodenext gives TS1479)"
    ;;
  *)
    out=$(tsc "$ts" tsconfig.cjs.json) || fail "TypeScript $version: the declarations do not compile in a CommonJS consumer: $out"
    step "types compile on TypeScript $version in an ESM and a CommonJS consumer"
    ;;
  esac
done
# The native compiler is new: prove it reports errors in this setup, so its pass above means something.
sed "s#'user_service'#42#" consumer.ts >bad.ts && sed 's#"files": \["consumer.ts"\]#"files": ["bad.ts"]#' tsconfig.json >tsconfig.bad.json
out=$(tsc ts7 tsconfig.bad.json) && fail "TypeScript 7 accepted a consumer with a type error"
grep -q 'bad.ts' <<<"$out" || fail "TypeScript 7 failed on the bad consumer, but not in it: $out"
step "types compile in an ESM and a CommonJS consumer"

# An HTTP-only CommonJS app, as a new user writes it: only the peers an HTTP app needs (the optional ones,
# @nestjs/microservices and @grpc/grpc-js, are left out, as npm does, or --legacy-peer-deps and pnpm do),
# run against a real Consul agent named by hostname.
http_app="$work/http-app"
mkdir -p "$http_app" && cd "$http_app"
echo '{ "name": "http-consumer", "private": true, "type": "commonjs" }' >package.json
http_peers=()
for pkg in @nestjs/common @nestjs/core @nestjs/platform-express @nestjs/terminus reflect-metadata rxjs; do
  http_peers+=("$pkg@$(version "$pkg")")
done
npm install --no-audit --no-fund --prefer-offline "$work/$tarball" "${http_peers[@]}" >"$work/install-http.log" 2>&1 ||
  { tail -n 20 "$work/install-http.log" >&2; fail "npm install of the tarball into an HTTP-only app failed"; }
cp "$root/scripts/consumer-smoke.cjs" .
timeout 120 node consumer-smoke.cjs "$(bash "$root/scripts/consul.sh" ensure)" ||
  fail "an HTTP-only CommonJS app against a real agent (see the consumer-smoke lines above)"
step "an HTTP-only CommonJS app without @nestjs/microservices runs against a real agent named localhost"
step "all checks passed"
