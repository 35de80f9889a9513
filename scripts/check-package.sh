#!/usr/bin/env bash
# Installs the packed package into a fresh app, the way a user does, and checks that it loads as ESM and
# through require() (CommonJS apps, Node's require(esm)), that its types compile in an ESM and a CommonJS
# consumer, and that no dev-only package leaks into the public declarations.
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

# No test helper, spec or sample in the tarball; the proto the gRPC health service needs is in.
contents=$(tar -tzf "$work/$tarball")
grep -q 'package/proto/grpc/health/v1/health.proto' <<<"$contents" || fail "proto/grpc/health/v1/health.proto is not packed"
! grep -Eq '\.spec\.|package/test/|package/sample/' <<<"$contents" || fail "tests or samples are packed"

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
npm install --no-audit --no-fund --prefer-offline "$work/$tarball" "${peers[@]}" typescript@~6.0.3 @types/node@^20 \
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
npx tsc -p tsconfig.json || fail "the declarations do not compile in an ESM consumer (skipLibCheck off)"
mkdir -p cjs && cp consumer.ts cjs/consumer.ts && echo '{ "type": "commonjs" }' >cjs/package.json
sed 's#"files": \["consumer.ts"\]#"files": ["cjs/consumer.ts"]#' tsconfig.json >tsconfig.cjs.json
npx tsc -p tsconfig.cjs.json || fail "the declarations do not compile in a CommonJS consumer"
step "types compile in an ESM and a CommonJS consumer"
step "all checks passed"
