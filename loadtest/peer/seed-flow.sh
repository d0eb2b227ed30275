#!/usr/bin/env bash
# The peer: what a user scripts WITHOUT Reelay, following the vendor's skill document with curl + jq
# (one shell per video). Modes:
#   credits  E1 anonymous token -> E6 credit balance
#   state    E1 -> E2 session -> E7 state
#   video    E1 -> E2 -> E4 /run_sse generate (read to the end) -> E7 draft -> E8 export -> E9 poll
#            every 30 s x TIME_SCALE until completed or failed
# stdout carries machine-readable lines only: "PHASE <name> <epoch_ms>" per step, then exactly one
#   RESULT ok <total_ms> polls=<n> render_done_at=<epoch_ms|->
#   RESULT fail <reason> <total_ms>
# Human notes ("still working", the download URL, curl errors) go to stderr. Tokens go nowhere: the
# bearer header lives in a 0600 file of a private temp dir, removed on exit.
#
# Environment (optional): PEER_SKILL_SOURCE (text-to-video-diffusion), PEER_SKILL_VERSION (1.0.0; the
# skill's frontmatter version is not in the seed), PEER_SKILL_PLATFORM (unknown: not under ~/.clawhub or
# ~/.cursor), PEER_PROMPT, PEER_LANGUAGE (en), PEER_MAX_POLLS (0 = no cap, as in the skill; Peer kills
# a shell at its timeout).
set -euo pipefail
export LC_ALL=C # awk and sleep read and print decimal points
shopt -s lastpipe

usage() {
  echo "usage: seed-flow.sh BASE_URL credits|state|video TIME_SCALE" >&2
  echo "RESULT fail usage 0"
  exit 2
}
[[ $# -eq 3 ]] || usage
BASE=${1%/}
MODE=$2
TS=$3
case $MODE in credits | state | video) ;; *) usage ;; esac
[[ $TS =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]] || usage

SKILL_SOURCE=${PEER_SKILL_SOURCE:-text-to-video-diffusion}
SKILL_VERSION=${PEER_SKILL_VERSION:-1.0.0}
SKILL_PLATFORM=${PEER_SKILL_PLATFORM:-unknown}
PROMPT=${PEER_PROMPT:-generate a 5-second clip of a city skyline transitioning from day to night}
MAX_POLLS=${PEER_MAX_POLLS:-0}
LANGUAGE=${PEER_LANGUAGE:-en}

# NOW = epoch ms, without forking (bash 5 EPOCHREALTIME; the decimal mark follows the locale)
now() { local t=${EPOCHREALTIME/[.,]/}; NOW=${t:0:${#t}-3}; }
now
START=$NOW

phase() { now; echo "PHASE $1 $NOW"; }
fail() { now; echo "RESULT fail $1 $((NOW - START))"; exit 1; }
# seconds x TIME_SCALE, at least $2 seconds
scaled() { awk -v a="$1" -v s="$TS" -v m="${2:-0}" 'BEGIN { v = a * s; if (v < m) v = m; printf "%.3f", v }'; }

WAIT_429=$(scaled 30)       # skill: 429 = rate limited, wait 30 s and retry once
POLL_EVERY=$(scaled 30)     # skill: poll the export every 30 s
NOTE_EVERY_MS=$(awk -v s="$TS" 'BEGIN { printf "%d", 120000 * s }')  # skill: "still working" every 2 min
SSE_MAX=$(scaled 900 30)    # skill: /run_sse timeout 15 min (floor 30 s: startup costs do not scale)
CALL_MAX=$(scaled 120 10)   # a plain REST call; the skill gives none

umask 077
WORK=$(mktemp -d "${TMPDIR:-/tmp}/peer.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
# skill: attribution headers on every request (without them export answers 402)
printf 'X-Skill-Source: %s\nX-Skill-Version: %s\nX-Skill-Platform: %s\n' \
  "$SKILL_SOURCE" "$SKILL_VERSION" "$SKILL_PLATFORM" >"$WORK/headers"
: >"$WORK/auth"

# call STEP METHOD PATH [BODY_FILE] [extra curl args...]: STATUS = the HTTP status, the answer in
# $WORK/body. A transport error fails the run; an HTTP 429 waits and retries once; other non-2xx fail.
call() {
  local step=$1 method=$2 path=$3 data=${4:-} attempt rc
  shift 3
  [[ $# -gt 0 ]] && shift
  local args=(-sS -X "$method" -o "$WORK/body" -w '%{http_code}' --max-time "$CALL_MAX"
    -H @"$WORK/headers" "$@")
  [[ -s $WORK/auth ]] && args+=(-H @"$WORK/auth")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary @"$data")
  for attempt in 1 2; do
    rc=0
    STATUS=$(curl "${args[@]}" "$BASE$path" 2>"$WORK/curl.err") || rc=$?
    if ((rc != 0)); then
      cat "$WORK/curl.err" >&2
      ((rc == 28)) && fail "$step:timeout"
      fail "$step:curl_$rc"
    fi
    [[ $STATUS == 429 && $attempt == 1 ]] || break
    echo "$step: rate limited, retrying in ${WAIT_429}s" >&2
    sleep "$WAIT_429"
  done
  [[ $STATUS == 2?? ]] || fail "$step:http_$STATUS"
}

# envelope STEP: the answer is {"code":0,...} (or a render {"success":true,...}); anything else fails
envelope() {
  local code
  code=$(jq -r 'if type != "object" then "not_json"
    elif has("code") then (.code | tostring)
    elif .success == false then "rejected"
    else "0" end' "$WORK/body" 2>/dev/null) || code=not_json
  [[ $code == 0 ]] && return 0
  [[ $code =~ ^[0-9-]+$ ]] && fail "$1:code_$code"
  fail "$1:$code"
}

token() {
  phase token
  local client
  client=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || uuidgen)
  call token POST /api/auth/anonymous-token "" -H "X-Client-Id: $client"
  envelope token
  local t
  t=$(jq -r '.data.token // empty' "$WORK/body")
  [[ -n $t ]] || fail token:no_token
  printf 'Authorization: Bearer %s\n' "$t" >"$WORK/auth"
}

session() {
  phase session
  jq -n --arg lang "$LANGUAGE" '{task_name: "project", language: $lang}' >"$WORK/req"
  call session POST /api/tasks/me/with-session/nemo_agent "$WORK/req"
  envelope session
  SID=$(jq -r '.data.session_id // empty' "$WORK/body")
  [[ -n $SID ]] || fail session:no_session_id
}

state() {
  phase state
  call state GET "/api/state/nemo_agent/me/$SID/latest"
  envelope state
  cp "$WORK/body" "$WORK/state.json"
}

# --- /run_sse -------------------------------------------------------------------------------------

beat() {
  BEATS=$((BEATS + 1))
  now
  if ((NOW - LAST_NOTE >= NOTE_EVERY_MS)); then
    echo "⏳ Still working..." >&2
    LAST_NOTE=$NOW
  fi
}

# reads the SSE body (plus a last line "\x01curl-exit RC") from stdin, counting what the skill names:
# text (for the user), tool calls (internal), heartbeats and empty data: lines (still working), errors
read_stream() {
  local line payload kind
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    case $line in
      $'\x01'curl-exit*) CURL_RC=${line##* }; continue ;;
      '') continue ;;
      :*) beat; continue ;;
      data:*) payload=${line#data:}; payload=${payload# } ;;
      event:* | id:* | retry:*) continue ;;
      *) OTHER+=$line; continue ;; # not SSE: a refusal (envelope, gateway page) before any event
    esac
    if [[ -z $payload ]]; then beat; continue; fi
    kind=$(jq -r 'if (.type? // null) != null then .type
      elif (.error? // null) != null then "error"
      elif (.content.parts? // null) != null then
        ([.content.parts[] | if (.text? // null) != null and (.thought? // false) == false then "text"
                             elif .functionCall? or .functionResponse? then "tool" else empty end]
         | if index("text") != null then "text" elif length > 0 then "tool" else "other" end)
      else "other" end' <<<"$payload" 2>/dev/null) || kind=bad_json
    case $kind in
      heartbeat) beat ;;
      text) TEXTS=$((TEXTS + 1)) ;;
      tool | tool_call | tool_result) TOOLS=$((TOOLS + 1)) ;;
      error) ERRORS=$((ERRORS + 1)) ;;
      *) ;; # done, unknown kinds: ignored (the end is the close)
    esac
  done
}

generate() {
  phase sse
  jq -n --arg sid "$SID" --arg text "$PROMPT" \
    '{app_name: "nemo_agent", user_id: "me", session_id: $sid, new_message: {parts: [{text: $text}]}}' >"$WORK/req"
  local attempt status ctype
  for attempt in 1 2; do
    TEXTS=0 TOOLS=0 BEATS=0 ERRORS=0 OTHER='' CURL_RC=''
    now
    LAST_NOTE=$NOW
    {
      rc=0
      curl -N -sS -X POST --max-time "$SSE_MAX" -D "$WORK/sse.headers" -H @"$WORK/headers" -H @"$WORK/auth" \
        -H 'Content-Type: application/json' -H 'Accept: text/event-stream' --data-binary @"$WORK/req" \
        "$BASE/run_sse" 2>"$WORK/curl.err" || rc=$?
      printf '\n\001curl-exit %d\n' "$rc"
    } | read_stream
    status=$(awk '/^HTTP\//{ s = $2 } END { print s }' "$WORK/sse.headers" 2>/dev/null || true)
    [[ $status == 429 && $attempt == 1 ]] || break
    echo "sse: rate limited, retrying in ${WAIT_429}s" >&2
    sleep "$WAIT_429"
  done
  if [[ -z $status ]]; then
    cat "$WORK/curl.err" >&2
    fail "sse:curl_${CURL_RC:-x}"
  fi
  [[ $status == 2?? ]] || fail "sse:http_$status"
  ctype=$(awk 'tolower($1) == "content-type:" { c = tolower($2) } END { print c }' "$WORK/sse.headers")
  if [[ $ctype != text/event-stream* ]]; then
    printf '%s' "$OTHER" >"$WORK/body"
    envelope sse
    fail sse:not_a_stream
  fi
  ((ERRORS == 0)) || fail sse:stream_error
  case ${CURL_RC:-0} in
    0) phase sse_closed ;;
    28) fail sse:timeout ;;
    *)
      # the stream dropped: never re-send (that runs and charges the work twice); the state tells
      cat "$WORK/curl.err" >&2
      phase sse_dropped
      ;;
  esac
}

# the state's draft, once exportable (a track with a segment). A stream that closed without text or
# dropped: poll the state to see the change (skill), every 30 s x TIME_SCALE, up to 5 more times.
draft() {
  local tries
  for tries in 0 1 2 3 4 5; do
    state
    if jq -e '[.data.state.draft.t? // [] | .[] | select((.sg // []) | length > 0)] | length > 0' \
      "$WORK/state.json" >/dev/null 2>&1; then
      return 0
    fi
    ((tries < 5)) && sleep "$POLL_EVERY"
  done
  fail state:empty_draft
}

export_video() {
  phase export
  local attempt
  for attempt in 1 2; do
    now
    RID="render_${NOW}_$$$RANDOM"  # render_<ts>, made unique among shells that start in the same ms
    jq -n --arg id "$RID" --arg sid "$SID" --slurpfile st "$WORK/state.json" \
      '{id: $id, sessionId: $sid, draft: $st[0].data.state.draft, output: {format: "mp4", quality: "high"}}' >"$WORK/req"
    call export POST /api/render/proxy/lambda "$WORK/req"
    # a refused submit (duplicate id, ...) is retried once with a new id
    if [[ $(jq -r '.success // empty' "$WORK/body" 2>/dev/null) == false && $attempt == 1 ]]; then
      echo "export: refused ($(jq -r '.error // "?"' "$WORK/body")), retrying with a new id" >&2
      continue
    fi
    envelope export
    break
  done
  RID=$(jq -r --arg id "$RID" '(.data // .) | (.id // .render_id // .taskId // $id)' "$WORK/body")
}

poll() {
  POLLS=0
  local status url error
  while :; do
    sleep "$POLL_EVERY"
    POLLS=$((POLLS + 1))
    phase poll
    call poll GET "/api/render/proxy/lambda/$RID"
    envelope poll
    # fields joined by US (0x1f): unlike a tab, read does not merge empty fields around it
    IFS=$'\x1f' read -r status url error < <(jq -r '(.data // .) |
      [(.status // "" | ascii_downcase), (.outputUrl // .output.url // .url // ""), (.error // "" | tostring)]
      | map(gsub("[\u001f\n]"; " ")) | join("\u001f")' "$WORK/body")
    case $status in
      completed | done | success | succeeded)
        [[ -n $url ]] || fail render:no_url
        phase render_done
        RENDER_DONE_AT=$NOW
        DOWNLOAD_URL=$url
        echo "download: $DOWNLOAD_URL" >&2
        return 0
        ;;
      failed | error | cancelled | canceled)
        echo "render failed: $error" >&2
        fail render:failed
        ;;
    esac
    ((MAX_POLLS == 0 || POLLS < MAX_POLLS)) || fail render:poll_limit
  done
}

POLLS=0
RENDER_DONE_AT=-
token
case $MODE in
  credits)
    phase credits
    call credits GET /api/credits/balance/simple
    envelope credits
    jq -e '.data.available | numbers' "$WORK/body" >/dev/null || fail credits:no_balance
    ;;
  state)
    session
    state
    ;;
  video)
    session
    generate
    draft
    export_video
    poll
    ;;
esac
now
echo "RESULT ok $((NOW - START)) polls=$POLLS render_done_at=$RENDER_DONE_AT"
