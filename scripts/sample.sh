#!/usr/bin/env bash
# npm run sample [-- --connect | --check]
#
# The tutorial's two services, registered in and discovered through Consul:
#   user_service  gRPC (sample/user-service), two instances, gRPC health checks, a job every second on the leader only
#   user_api      HTTP (sample/user-api), calls user_service through @ConsulService, greeting from Consul KV
#   user_api_grpc the same process's gRPC side (a hybrid app): the greeting over gRPC, registered as its own service
# Starts a Consul dev agent on 127.0.0.1 (or uses CONSUL_HTTP_ADDR), writes the sample's KV keys, builds,
# starts everything, waits until Consul reports all four passing, and shows how to look at it.
# Ctrl-C shuts down gracefully: every instance deregisters itself and the catalog is left empty.
# --connect: the same apps in Consul Connect native mode (SAMPLE_CONNECT=1, read by both apps): user_api calls
# user_service over mTLS with the agent's certificates, admitted by Consul's intentions; user_api serves HTTPS.
# --check: the same, non-interactive, plus a live KV change, a DNS lookup, and the leader's job taken over after a
# SIGKILL of the leader; then the apps again in Connect mode: a call over mTLS, a deny intention refusing calls,
# its deletion letting them through. Exits 0 only if every step worked.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
check=0
connect=0
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    --connect) connect=1 ;;
    *)
      echo "usage: npm run sample [-- --connect | --check]" >&2
      exit 2
      ;;
  esac
done
[ "$check" = 1 ] && connect=0 # --check runs the plain mode first, then Connect
logs="$root/.consul/sample"
mkdir -p "$logs"
rm -f "$logs"/*.log

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
probe() { node scripts/sample-probe.mjs "$@"; }
free_port() {
  node -e '
    const net = require("net"); const want = Number(process.argv[1]);
    const tryListen = (p) => { const s = net.createServer().once("error", () => tryListen(0))
      .listen(p, "127.0.0.1", () => { console.log(s.address().port); s.close(); }); };
    tryListen(want);' "$1"
}

agent_pid=""
app_pids=()
stop_apps() {
  local pid
  for pid in "${app_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${app_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  app_pids=()
}
cleanup() {
  trap - EXIT INT TERM
  stop_apps
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid" && wait "$agent_pid" 2>/dev/null || true
  fi
}
fail() {
  printf '\nsample: %s\n' "$*" >&2
  for f in "$logs"/*.log; do [ -f "$f" ] && { printf '\n--- %s (last lines)\n' "${f#"$root"/}" >&2; tail -n 15 "$f" >&2; }; done
  exit 1
}
trap cleanup EXIT
trap 'echo; say "Shutting down (each instance deregisters itself)..."; stop_apps; probe instances "$consul_http" user_service; exit 0' INT TERM

wait_for() { # <what> <tries of 0.2 s> <command...>
  local what="$1" tries="$2"
  shift 2
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "timed out waiting for $what"
}

consul_bin=$(bash scripts/consul.sh ensure)
if [ -n "${CONSUL_HTTP_ADDR:-}" ]; then
  consul_http="$CONSUL_HTTP_ADDR"
  [[ "$consul_http" == http* ]] || consul_http="http://$consul_http"
  dns_port=8600
  say "Using the Consul agent at $consul_http (CONSUL_HTTP_ADDR)"
else
  http_port=$(free_port 8500)
  dns_port=$(free_port 8600)
  say "Starting a Consul dev agent ($("$consul_bin" version | head -1)): HTTP 127.0.0.1:$http_port, DNS port $dns_port"
  "$consul_bin" agent -dev -bind=127.0.0.1 -client=127.0.0.1 -node=sample \
    -http-port="$http_port" -dns-port="$dns_port" -grpc-port="$(free_port 0)" \
    -serf-lan-port="$(free_port 0)" -serf-wan-port="$(free_port 0)" -server-port="$(free_port 0)" \
    >"$logs/consul.log" 2>&1 &
  agent_pid=$!
  consul_http="http://127.0.0.1:$http_port"
  wait_for "the agent to elect a leader" 150 bash -c "curl -fsS $consul_http/v1/status/leader | grep -q ':'"
fi

say "Writing the sample's configuration to Consul KV"
curl -fsS -X PUT --data 'Hello from Consul KV' "$consul_http/v1/kv/config/user_api/greeting" >/dev/null
echo "  config/user_api/greeting = Hello from Consul KV"

say "Building the package and the sample"
npm run build --silent
npx tsc -p sample/tsconfig.json

export CONSUL_HTTP_ADDR="$consul_http"
start_apps() { # <log prefix>: two user_service instances and one user_api, in the mode $SAMPLE_CONNECT says
  local n
  for n in 1 2; do
    node sample/dist/user-service/src/main.js >"$logs/$1user-service-$n.log" 2>&1 &
    app_pids+=($!)
  done
  node sample/dist/user-api/src/main.js >"$logs/$1user-api.log" 2>&1 &
  app_pids+=($!)
  wait_for "two passing user_service instances" 200 probe passing "$consul_http" user_service 2
  wait_for "a passing user_api instance" 200 probe passing "$consul_http" user_api 1
  wait_for "a passing user_api_grpc instance" 200 probe passing "$consul_http" user_api_grpc 1

  say "Registered and passing in Consul:"
  probe instances "$consul_http" user_service
  probe instances "$consul_http" user_api
  probe instances "$consul_http" user_api_grpc
  api=$(curl -fsS "$consul_http/v1/health/service/user_api?passing" | node -e 'process.stdin.on("data", (d) => { const [e] = JSON.parse(d); console.log(`${e.Service.Address}:${e.Service.Port}`); })')
}
stopped_and_deregistered() {
  stop_apps
  left="$(probe instances "$consul_http" user_service)$(probe instances "$consul_http" user_api)$(probe instances "$consul_http" user_api_grpc)"
  [ -z "$left" ] || fail "instances left in the catalog after shutdown:$left"
  echo "  every instance deregistered itself on shutdown"
}

if [ "$connect" = 1 ]; then
  export SAMPLE_CONNECT=1
  scheme=https
  say "Starting two user_service instances (gRPC) and one user_api (HTTPS, and gRPC: a hybrid app), all Connect native"
else
  export SAMPLE_CONNECT=0
  scheme=http
  say "Starting two user_service instances (gRPC) and one user_api (HTTP, and gRPC: a hybrid app)"
fi
start_apps ""

say "GET $scheme://$api/users/1, four times: user_api picks a user_service instance per call"
answers=""
for _ in 1 2 3 4; do
  answer=$(probe get "$scheme://$api/users/1") || fail "GET /users/1 failed: $answer"
  echo "  $answer"
  answers+="$answer"$'\n'
done
served=$(printf '%s' "$answers" | grep -o '"servedBy":"[^"]*"' | sort -u | wc -l)

say "GET $scheme://$api/greeting"
echo "  $(probe get "$scheme://$api/greeting")"

say "user_service through Consul's DNS interface, as the tutorial resolves it (A + SRV, port $dns_port):"
probe dns "$dns_port" user_service || fail "DNS lookup of user_service failed"

if [ "$connect" = 1 ]; then
  cat <<EOT

Try it (Connect native: user_api answers HTTPS callers holding a certificate of the mesh; the probe gets one):
  Consul UI              $consul_http/ui/
  Connect instances      curl -s $consul_http/v1/health/connect/user_service
  users over mTLS        node scripts/sample-probe.mjs get https://$api/users/1
  without a certificate  curl -sk https://$api/users/1
  deny user_api          curl -s -X POST --data '{"SourceName":"user_api","DestinationName":"user_service","Action":"deny"}' \\
                           $consul_http/v1/connect/intentions
                         node scripts/sample-probe.mjs get https://$api/users/1
  the intentions         curl -s $consul_http/v1/connect/intentions   (DELETE .../intentions/<ID> to allow again)
  logs                   .consul/sample/*.log
EOT
else
  cat <<EOT

Try it:
  Consul UI              $consul_http/ui/
  the catalog            curl -s $consul_http/v1/health/service/user_service
  users through gRPC     curl -s http://$api/users   |   curl -s http://$api/users/2
  live configuration     curl -s -X PUT --data 'Hi again' $consul_http/v1/kv/config/user_api/greeting
                         curl -s http://$api/greeting
  DNS, as the tutorial   dig @127.0.0.1 -p $dns_port user_service.service.consul SRV
  logs                   .consul/sample/*.log
EOT
fi

if [ "$check" = 1 ]; then
  say "Checking"
  [ "$served" -eq 2 ] || fail "expected both user_service instances to answer, saw $served"
  echo "  both user_service instances answered"
  curl -fsS -X PUT --data 'Changed live' "$consul_http/v1/kv/config/user_api/greeting" >/dev/null
  wait_for "the new greeting" 25 bash -c "node scripts/sample-probe.mjs get http://$api/greeting | grep -q 'Changed live'"
  echo "  the greeting followed the KV change"
  [ "$(probe dns "$dns_port" user_service | wc -l)" -eq 2 ] || fail "DNS did not return two user_service instances"
  echo "  DNS returns both user_service instances"
  ran_on() { grep -l 'leader job ran' "$logs"/user-service-[12].log 2>/dev/null | wc -l; }
  wait_for "the leader job to run" 150 bash -c "grep -q 'leader job ran' $logs/user-service-[12].log"
  sleep 3
  [ "$(ran_on)" -eq 1 ] || fail "the leader job ran on $(ran_on) instances, expected exactly 1"
  leader=$(grep -l 'leader job ran' "$logs"/user-service-[12].log | grep -o '[12]\.log' | cut -c1)
  other=$((3 - leader))
  leader_id=$(sed 's/\x1b\[[0-9;]*m//g' "$logs/user-service-$leader.log" | grep -o 'leader job ran on [^ ]*' | tail -n 1 | awk '{print $5}')
  echo "  @Cron('* * * * * *') @LeaderOnly: $leader_id runs the job every second, the other instance skips it"
  killed_at=$(date +%s%N)
  kill -KILL "${app_pids[$((leader - 1))]}"
  wait "${app_pids[$((leader - 1))]}" 2>/dev/null || true
  wait_for "the other instance to take the job over" 100 bash -c "grep -q 'leader job ran' $logs/user-service-$other.log"
  echo "  leader SIGKILLed: user-service-$other took the job over in $((($(date +%s%N) - killed_at) / 1000000)) ms"
  # A crashed instance stays in the catalog, critical, until deregisterCriticalServiceAfter: take it out now.
  curl -fsS -X PUT "$consul_http/v1/agent/service/deregister/$leader_id" >/dev/null
  unset "app_pids[$((leader - 1))]"
  app_pids=("${app_pids[@]}")
  stopped_and_deregistered

  say "Connect native (SAMPLE_CONNECT=1): the same apps again, user_api calling user_service over mTLS"
  export SAMPLE_CONNECT=1
  start_apps connect-
  say "Checking Connect"
  [ "$(probe instances "$consul_http" user_service | grep -c 'Connect native')" -eq 2 ] ||
    fail "expected two user_service instances registered Connect native"
  echo "  both user_service instances are registered Connect native"
  answer=$(probe get "https://$api/users/1") || fail "GET https://$api/users/1 failed: $answer"
  caller=$(printf '%s' "$answer" | grep -o '"caller":"spiffe://[^"]*/svc/user_api"' | cut -d'"' -f4) ||
    fail "user_service did not see user_api's SPIFFE id: $answer"
  echo "  GET https://$api/users/1 over mTLS: $answer"
  echo "  user_service verified the caller's certificate: $caller"
  refusal=$(curl -sk "https://$api/users/1")
  printf '%s' "$refusal" | grep -q 'no client certificate' || fail "a caller without a certificate was not refused: $refusal"
  echo "  without a certificate of the mesh: $refusal"
  denied=$(probe deny "$consul_http" user_api user_service "https://$api/users/1") ||
    fail "user_api was not refused after a deny intention: $denied"
  read -r intention deny_ms <<<"$(head -n 1 <<<"$denied")"
  refusal=$(tail -n 1 <<<"$denied")
  printf '%s' "$refusal" | grep -q 'PERMISSION_DENIED' || fail "the refusal does not say PERMISSION_DENIED: $refusal"
  echo "  deny intention user_api → user_service created: calls refused $deny_ms ms later: $refusal"
  allowed=$(probe undeny "$consul_http" "$intention" "https://$api/users/1") ||
    fail "calls did not flow again after the intention was deleted: $allowed"
  echo "  intention deleted: calls flow again $(head -n 1 <<<"$allowed") ms later: $(tail -n 1 <<<"$allowed")"
  stopped_and_deregistered
  say "Check passed."
  exit 0
fi

say "Press Ctrl-C to stop."
wait "${app_pids[@]}"
