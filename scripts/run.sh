#!/usr/bin/env bash
# make run: both servers on the embedded SQLite default, stopped together by Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

# http_ok PORT PATH: whether localhost:PORT answers PATH with 200 (bash only, no curl needed).
http_ok() {
  local status
  exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$2" >&3
  IFS= read -r status <&3 || true
  exec 3<&- 3>&-
  [[ "$status" == *" 200 "* ]]
}

# wait_ready PORT PATH: poll until it answers 200, failing if a server died.
wait_ready() {
  for _ in $(seq 1 150); do
    if http_ok "$1" "$2"; then return 0; fi
    for p in "${pids[@]}"; do
      if ! kill -0 "$p" 2>/dev/null; then echo "a server failed to start; see data/*.log" >&2; tail -n 5 data/*.log >&2; exit 1; fi
    done
    sleep 0.2
  done
  echo "timed out waiting for localhost:$1$2" >&2; exit 1
}

# The auth server first: the resource server loads its keys from the auth server's JWKS.
./bin/auth-server >>data/auth-server.log 2>&1 & pids+=($!)
wait_ready 8080 /readyz
./bin/resource-server >>data/resource-server.log 2>&1 & pids+=($!)
wait_ready 8081 /readyz

cat <<'MSG'
auth server      http://localhost:8080   (log: data/auth-server.log)
resource server  http://localhost:8081   (log: data/resource-server.log)

Try it:
  curl -s -X POST localhost:8080/signup -H 'Content-Type: application/json' \
       -d '{"username":"alice","email":"alice@example.com","password":"correct horse"}'
  TOKEN=$(curl -s -X POST localhost:8080/login -d username=alice -d 'password=correct horse' \
       | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -s localhost:8080/me -H "Authorization: Bearer $TOKEN"
  curl -s localhost:8081/me -H "Authorization: Bearer $TOKEN"
  curl -s localhost:8080/.well-known/jwks.json

Ctrl-C stops both servers.
MSG
wait -n "${pids[@]}" || true
