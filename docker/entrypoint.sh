#!/usr/bin/env bash
# The image's entrypoint: the first argument names the role, the rest goes to its subcommand
# (`reelay kafka [PORT] [DATA_DIR] [CONTROLLER_PORT]`). Everything else comes from the environment
# (README.md's table, docs/configuration.md). Launches io.reelay.cli.Main as bin/reelay does.
set -euo pipefail

APP="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)" # /opt/reelay: reelay.jar, lib/, config/, bin/

usage() {
  cat >&2 <<'EOF'
usage: docker run reelay ROLE [ARGS...]

  worker          a worker: joins the workers' consumer group (REELAY_WORKER_GROUP); /healthz on 8081
  status-server   the status service and its HTTP API on 8080
  sim             the NemoVideo simulator on 8090
  kafka           a single-node Kafka broker on 9092, on the container's loopback only (a trial in one
                  container; a fleet uses the apache/kafka image, see docker/compose.yml)

Configured by the environment: REELAY_KAFKA_BOOTSTRAP, NEMO_BASE_URL, REELAY_STATE_KEY, REELAY_API_KEYS, ...
(README.md, docs/configuration.md). JAVA_OPTS adds JVM flags; REELAY_LOG_FORMAT is json or text.
EOF
  exit 2
}

ROLE="${1:-}"
case "$ROLE" in
  worker | status-server | sim | kafka) shift ;;
  *) usage ;;
esac

HOME_DIR="${REELAY_HOME:-$PWD}"
# relative paths of the config (var/media, var/kafka) are under REELAY_HOME, as under bin/reelay
cd "$HOME_DIR"

# json: one JSON object per line on stdout, for the container's log driver; text: var/log/reelay.log
case "${REELAY_LOG_FORMAT:-json}" in
  json) LOGBACK="$APP/config/logback-json.xml" ;;
  text) LOGBACK="$APP/config/logback.xml"; mkdir -p "$HOME_DIR/var/log" ;;
  *) echo "reelay: REELAY_LOG_FORMAT must be json or text, not '${REELAY_LOG_FORMAT}'" >&2; exit 2 ;;
esac

# for healthcheck.sh, which docker runs without the command line; a read-only /tmp only costs the healthcheck
echo "$ROLE" 2>/dev/null >/tmp/reelay-role || true

# The heap follows the container's memory limit (JDK 17 reads the cgroup), leaving a quarter for
# threads, sockets and buffers; an OutOfMemoryError ends the process so the orchestrator restarts
# it, instead of leaving a half-alive JVM. JAVA_OPTS comes later and wins (-Xmx1g,
# -XX:MaxRAMPercentage=60, ...); CONFIG_FORCE_<path> variables set any config key, unless JAVA_OPTS
# says -Dconfig.override_with_env_vars=false.
# shellcheck disable=SC2086
exec java -XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError \
  -Dconfig.override_with_env_vars=true ${JAVA_OPTS:-} \
  -Dreelay.home="$HOME_DIR" \
  -Dconfig.file="$APP/config/reelay.conf" \
  -Dlogback.configurationFile="$LOGBACK" \
  -Djava.awt.headless=true \
  -cp "$APP/reelay.jar:$APP/lib/*" io.reelay.cli.Main "$ROLE" "$@"
