# Shared by the bench scripts: the machine line, starting and stopping the server, its memory.
# Source it after setting `work` (a temp dir) and, optionally, SERVER_PIN (an array, e.g.
# (taskset -c 0)). It defines `pid` and `url` for the running server.

pid=""
url=""

machine_line() { # -> sets `machine`: cores, CPU, kernel, the data disk of $work, time
  local cpu dev fstype blk blk_parent rot_file disk
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
  dev=$(df --output=source "$work" | tail -1)
  fstype=$(df --output=fstype "$work" 2>/dev/null | tail -1 || echo '?')
  blk=$(basename "$dev")
  blk_parent=$(lsblk -no pkname "$dev" 2>/dev/null | head -1 || true)
  rot_file=/sys/block/${blk_parent:-$blk}/queue/rotational
  case "$(cat "$rot_file" 2>/dev/null || echo '?')" in
    0) disk="non-rotational (SSD/virtual)";; 1) disk="rotational flag set (virtio disks often report 1)";; *) disk="unknown";;
  esac
  machine="nproc=$(nproc); cpu=${cpu:-unknown}; RAM $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r); data disk $dev ($fstype, $disk); $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
}

start_server() { # name, log level, command... -> sets pid and url once it listens
  local name=$1 level=$2; shift 2
  local out="$work/$name.out" err="$work/$name.err"
  RUST_LOG=$level ${SERVER_PIN[@]+"${SERVER_PIN[@]}"} "$@" >"$out" 2>"$err" &
  pid=$!
  url=""
  for _ in $(seq 1 600); do
    url=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$out" | head -1 | sed 's/listening on //') || true
    [[ -n "$url" ]] && break
    kill -0 "$pid" 2>/dev/null || { echo "!! $name exited at start:"; cat "$err"; exit 1; }
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "!! $name did not say where it listens"; exit 1; }
}

stop_server() { # SIGTERM (the server flushes), SIGKILL after 30 s
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "!! server $pid still running 30 s after SIGTERM: killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}

memory() { # -> "VmHWM X MiB, VmRSS Y MiB" of the server
  awk '/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 } END { printf "VmHWM %.0f MiB, VmRSS %.0f MiB", h / 1024, r / 1024 }' \
    "/proc/$pid/status"
}
