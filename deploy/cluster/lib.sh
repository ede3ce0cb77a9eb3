# Shared helpers for deploy/cluster/{up,down,status,smoke}. Sourced, not run.
# (no `cmd | grep -q` under pipefail in these scripts: grep -q exits at the first match, cmd dies of
# SIGPIPE and the pipeline fails at random; use `grep ... >/dev/null`)
HERE=${HERE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
. "$HERE/versions.sh"
BIN=$K8S_DIR/bin
PKI=$STATE_DIR/pki
KCFG=$STATE_DIR/kubeconfig
ADMIN_KUBECONFIG=$KCFG/admin.conf
CTR_SOCK=/run/containerd/containerd.sock
export PATH=$BIN:$PATH

say()  { printf '[%s %s] %s\n' "${TOOL:-cluster}" "$(date -u +%H:%M:%S)" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "${TOOL:-cluster}" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "${TOOL:-cluster}" "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it starts containerd, kubelet and edits iptables)"; }

# Node identity: the first global IPv4 address of the interface that holds the default route.
# Traffic to it never leaves the machine.
node_ip() {
  local dev
  dev=$(ip -4 route show default | awk '{for(i=1;i<NF;i++) if($i=="dev"){print $(i+1); exit}}')
  [ -n "$dev" ] || dev=$(ip -4 -o addr show scope global | awk '{print $2; exit}')
  ip -4 -o addr show dev "$dev" scope global | awk '{split($4,a,"/"); print a[1]; exit}'
}
node_name() { hostname | tr 'A-Z' 'a-z'; }

# --- processes: one pid file each in $RUN_DIR, one log each in $LOG_DIR ---------------------
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

pid_of() { local f=$RUN_DIR/$1.pid p; [ -f "$f" ] || return 1; p=$(cat "$f"); [ -n "$p" ] && [ -d /proc/$p ] || return 1
  # guard against pid reuse: the process must still be the binary we started
  case $(readlink /proc/$p/exe 2>/dev/null) in *"/$1"|*"/$1 (deleted)") echo "$p" ;; *) return 1 ;; esac; }
running() { pid_of "$1" >/dev/null; }

# same_args NAME BINARY ARGS... : the running NAME was started with exactly this command line
same_args() {
  local p; p=$(pid_of "$1") || return 1; shift
  cmp -s <(printf '%s\0' "$@") "/proc/$p/cmdline"
}

# start NAME BINARY ARGS... : start detached unless already running with these arguments; one
# running with other arguments (an older `up` started it) is stopped and started again, so a warm
# `up` applies a changed flag
start_proc() {
  local name=$1; shift
  if running "$name"; then
    if same_args "$name" "$@"; then say "$name already running (pid $(pid_of "$name"))"; return 0; fi
    say "$name runs with other arguments than these: restarting it"
    stop_proc "$name"
  fi
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  say "starting $name (log: $LOG_DIR/$name.log)"
  printf '\n===== %s start %s\n' "$name" "$(date -u +%FT%TZ)" >> "$LOG_DIR/$name.log"
  # fd 3 is closed too: `up` keeps its real stdout there, and a daemon holding it would keep a
  # pipe like `up | tail -n1` open forever
  setsid nohup "$@" >> "$LOG_DIR/$name.log" 2>&1 < /dev/null 3>&- &
  echo $! > "$RUN_DIR/$name.pid"
  sleep 0.5
  running "$name" || { tail -n 20 "$LOG_DIR/$name.log" >&2; die "$name exited right after start; its log is above ($LOG_DIR/$name.log)"; }
}

stop_proc() { # stop_proc NAME [timeout_s]
  local name=$1 t=${2:-20} p i
  p=$(pid_of "$name") || { rm -f "$RUN_DIR/$name.pid"; return 0; }
  say "stopping $name (pid $p)"
  kill -TERM "$p" 2>/dev/null || true
  for ((i=0; i<t*5; i++)); do [ -d /proc/$p ] || break; sleep 0.2; done
  if [ -d /proc/$p ]; then warn "$name did not exit in ${t}s; SIGKILL"; kill -KILL "$p" 2>/dev/null || true; sleep 0.5; fi
  rm -f "$RUN_DIR/$name.pid"
}

# wait_for DESC TIMEOUT_S CMD... : poll CMD every second
wait_for() {
  local desc=$1 t=$2 i; shift 2
  for ((i=0; i<t; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 1
    if (( i > 0 && i % 15 == 0 )); then say "still waiting for $desc (${i}s)"; fi; done
  return 1
}

kc() { kubectl --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
apiserver_ready() { kubectl --kubeconfig "$KCFG/super-admin.conf" get --raw /readyz >/dev/null 2>&1; }

# write_if_changed FILE : stdin -> FILE, untouched when the content is the same (kube-proxy exits
# when its config file is written, even with the same content)
write_if_changed() {
  local f=$1 tmp; tmp=$(mktemp "$f.XXXX")
  cat > "$tmp"
  if [ -f "$f" ] && cmp -s "$tmp" "$f"; then rm -f "$tmp"; else mv "$tmp" "$f"; fi
}
