#!/usr/bin/env bash
# npm run sample [-- --check]
#
# Starts a Consul dev agent on 127.0.0.1 (or uses CONSUL_HTTP_ADDR), builds the package and the
# sample, runs sample/user-api registered in Consul, and shows how to look at it. Ctrl-C shuts
# the app down gracefully (it deregisters itself) and stops the agent this script started.
# --check: the same without waiting, exiting 0 only if every step worked (for CI).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
check=0
[ "${1:-}" = "--check" ] && check=1

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
fail() { printf 'sample: %s\n' "$*" >&2; exit 1; }
free_port() {
  local preferred="$1"
  node -e '
    const net = require("net"); const want = Number(process.argv[1]);
    const tryListen = (p) => { const s = net.createServer().once("error", () => tryListen(0))
      .listen(p, "127.0.0.1", () => { console.log(s.address().port); s.close(); }); };
    tryListen(want);' "$preferred"
}

agent_pid=""
app_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill -TERM "$app_pid" && wait "$app_pid" 2>/dev/null || true
  fi
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid" && wait "$agent_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'echo; say "Shutting down..."; exit 0' INT TERM

consul_bin=$(bash scripts/consul.sh ensure)

if [ -n "${CONSUL_HTTP_ADDR:-}" ]; then
  consul_http="${CONSUL_HTTP_ADDR}"
  [[ "$consul_http" == http* ]] || consul_http="http://$consul_http"
  dns_port=8600
  say "Using the Consul agent at $consul_http (CONSUL_HTTP_ADDR)"
else
  http_port=$(free_port 8500); dns_port=$(free_port 8600)
  mkdir -p .consul
  say "Starting a Consul dev agent ($("$consul_bin" version | head -1)) on 127.0.0.1:$http_port, DNS on port $dns_port"
  "$consul_bin" agent -dev -bind=127.0.0.1 -client=127.0.0.1 -node=sample \
    -http-port="$http_port" -dns-port="$dns_port" -grpc-port="$(free_port 0)" \
    -serf-lan-port="$(free_port 0)" -serf-wan-port="$(free_port 0)" -server-port="$(free_port 0)" \
    >.consul/sample-agent.log 2>&1 &
  agent_pid=$!
  consul_http="http://127.0.0.1:$http_port"
  for _ in $(seq 1 100); do
    leader=$(curl -fsS "$consul_http/v1/status/leader" 2>/dev/null || true)
    [ -n "$leader" ] && [ "$leader" != '""' ] && break
    kill -0 "$agent_pid" 2>/dev/null || fail "the agent exited; see .consul/sample-agent.log"
    sleep 0.2
  done
  [ -n "$leader" ] && [ "$leader" != '""' ] || fail "the agent elected no leader in 20 s; see .consul/sample-agent.log"
fi

say "Building the package and the sample"
npm run build --silent
npx tsc -p sample/tsconfig.json

say "Starting sample/user-api"
CONSUL_HTTP_ADDR="$consul_http" node sample/dist/user-api/src/main.js &
app_pid=$!

passing=""
for _ in $(seq 1 150); do
  passing=$(curl -fsS "$consul_http/v1/health/service/user_api?passing" 2>/dev/null || true)
  [ -n "$passing" ] && [ "$passing" != "[]" ] && break
  kill -0 "$app_pid" 2>/dev/null || fail "user-api exited before it was healthy"
  sleep 0.2
done
[ -n "$passing" ] && [ "$passing" != "[]" ] || fail "user_api did not become passing in Consul within 30 s"

app_addr=$(node -e 'const [e] = JSON.parse(process.argv[1]); console.log(`${e.Service.Address}:${e.Service.Port}`)' "$passing")
say "user_api is registered and passing in Consul:"
node -e '
  for (const e of JSON.parse(process.argv[1]))
    console.log(`  ${e.Service.ID}  ${e.Service.Address}:${e.Service.Port}  tags=${e.Service.Tags}  checks=${e.Checks.map((c) => `${c.Name}:${c.Status}`).join(", ")}`);' "$passing"

say "GET http://$app_addr/users/1 ->"
curl -fsS "http://$app_addr/users/1"; echo

cat <<EOT

Try it:
  Consul UI            $consul_http/ui/
  the catalog          curl -s $consul_http/v1/health/service/user_api | jq
  the app              curl -s http://$app_addr/users
  its health check     curl -s http://$app_addr/health
  DNS, as the tutorial dig @127.0.0.1 -p $dns_port user_api.service.consul SRV
EOT

if [ "$check" = 1 ]; then
  curl -fsS "http://$app_addr/health" >/dev/null || fail "GET /health failed"
  kill -TERM "$app_pid"; wait "$app_pid" || true; app_pid=""
  left=$(curl -fsS "$consul_http/v1/health/service/user_api")
  [ "$left" = "[]" ] || fail "user_api is still in the catalog after shutdown: $left"
  say "Check passed: registered, passing, answered, and deregistered on shutdown."
  exit 0
fi

say "Press Ctrl-C to stop (the app deregisters itself on the way out)."
wait "$app_pid"
