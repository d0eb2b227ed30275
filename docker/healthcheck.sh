#!/usr/bin/env bash
# The image's HEALTHCHECK: exit 0 when the role's process answers. Bash only (the JRE image need
# not have curl): an HTTP/1.0 GET over /dev/tcp, healthy on a 200 status line. The role is the
# argument, else what entrypoint.sh recorded; ports are the ones the role reads from the environment.
set -uo pipefail

ROLE="${1:-$(cat /tmp/reelay-role 2>/dev/null)}"

# GET PATH on 127.0.0.1:PORT; true on "HTTP/1.x 200 ..."
http_ok() {
  local status
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 || return 1
  IFS= read -r -t 4 status <&3 || return 1
  exec 3<&- 3>&-
  [[ "$status" == *" 200 "* ]] || { echo "GET $2 on port $1: ${status%$'\r'}" >&2; return 1; }
}

# the broker port accepts a connection
tcp_ok() {
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  exec 3<&- 3>&-
}

# reelay kafka's port: REELAY_KAFKA_PORT, else the port of the first REELAY_KAFKA_BOOTSTRAP entry, else 9092
kafka_port() {
  local first="${REELAY_KAFKA_BOOTSTRAP:-}"
  first="${first%%,*}"
  if [[ -n "${REELAY_KAFKA_PORT:-}" ]]; then
    echo "$REELAY_KAFKA_PORT"
  elif [[ "$first" == *:* && -n "${first##*:}" ]]; then
    echo "${first##*:}"
  else
    echo 9092
  fi
}

case "$ROLE" in
  worker) http_ok "${REELAY_WORKER_HTTP_PORT:-8081}" /healthz ;;
  status-server) http_ok "${REELAY_HTTP_PORT:-8080}" /healthz ;;
  # the simulator has no /healthz; this is its cheapest unauthenticated GET (counts nothing)
  sim) http_ok "${REELAY_SIM_PORT:-8090}" /_sim/faults ;;
  kafka) tcp_ok "$(kafka_port)" ;;
  *) echo "healthcheck: no role (give one: worker, status-server, sim, kafka)" >&2; exit 1 ;;
esac
