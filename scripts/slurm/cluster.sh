#!/usr/bin/env bash
# A real single-node Slurm cluster for tests (Debian 12's slurm-wlm + munge; no systemd, cgroups or accounting DB).
#
#   scripts/slurm/cluster.sh setup    install slurm-wlm, slurm-client and munge with apt, only when missing (root or sudo -n)
#   scripts/slurm/cluster.sh start    setup, then start munged (as the munge user), slurmctld and slurmd on 127.0.0.1
#                                     with fresh state in $PERSONA_LAB_SLURM_DIR; prints `export SLURM_CONF=…`
#   scripts/slurm/cluster.sh stop     scancel every job, wait for them to end, stop the daemons
#   scripts/slurm/cluster.sh status   sinfo + squeue
#
# Environment: PERSONA_LAB_SLURM_DIR (default /tmp/persona-lab-slurm), PERSONA_LAB_SLURM_CTLD_PORT (default 16817),
# PERSONA_LAB_SLURM_SLURMD_PORT (default 16818), PERSONA_LAB_SLURM_NODE (default plab-node).
# Exit 3 from setup/start: cannot install or run here (not root, no apt) — callers skip with the printed reason.
#
# The traps this avoids (each one cost a hang when missing):
# - select/cons_tres without DefMemPerCPU gives every job the whole node's memory: one job at a time.
# - proctrack/cgroup and task/cgroup need a cgroup hierarchy and systemd; linuxproc + task/none need neither.
# - without DependencyParameters=kill_invalid_depend a merge job whose dependency failed stays PENDING forever.
# - a requeued job waits ~120 s (its StartTime is pushed); resubmitting (persona-lab jobs resume) avoids requeue.
# - daemons stopped with jobs still running leave orphaned job steps: cancel and wait first.
# - state left from a previous run (job ids, node state DOWN) confuses the next one: fresh state dirs every start.
set -euo pipefail

DIR="${PERSONA_LAB_SLURM_DIR:-/tmp/persona-lab-slurm}"
CTLD_PORT="${PERSONA_LAB_SLURM_CTLD_PORT:-16817}"
SLURMD_PORT="${PERSONA_LAB_SLURM_SLURMD_PORT:-16818}"
NODE="${PERSONA_LAB_SLURM_NODE:-plab-node}"
log() { printf '[slurm-cluster] %s\n' "$*" >&2; }

sudo_prefix() {
  if [ "$(id -u)" = 0 ]; then echo ""; return; fi
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then echo "sudo -n"; return; fi
  return 1
}

setup() {
  local missing=() p
  for p in slurm-wlm slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || { log "no apt-get: install ${missing[*]} by hand"; exit 3; }
  local SUDO
  SUDO="$(sudo_prefix)" || { log "missing apt packages ${missing[*]} and not root (no sudo -n)"; exit 3; }
  log "apt-get install ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || { log "apt-get update failed"; exit 3; }
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || { log "apt-get install failed"; exit 3; }
}

stop() {
  [ -f "$DIR/slurm.conf" ] || return 0
  export SLURM_CONF="$DIR/slurm.conf"
  if [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    scancel --full --quiet $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  local f pid
  for f in slurmd slurmctld munged; do
    [ -f "$DIR/$f.pid" ] || continue
    pid="$(cat "$DIR/$f.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/$f.pid"
  done
  [ -f "$DIR/munge-dir" ] && rm -rf "$(cat "$DIR/munge-dir")" "$DIR/munge-dir"
  return 0
}

start() {
  setup
  [ "$(id -u)" = 0 ] || { log "the local cluster runs its daemons as root; run as root"; exit 3; }
  stop
  rm -rf "$DIR"
  mkdir -p "$DIR/state" "$DIR/spool"
  chmod 755 "$DIR"
  # munged runs as munge and refuses keys and sockets in places others can write to: its own 0700 folder owned by
  # munge, under $DIR when munge can reach it (not inside a 0700 mktemp folder), else under /tmp.
  local M="$DIR/munge"
  runuser -u munge -- test -x "$DIR" 2>/dev/null || M="/tmp/persona-lab-munge-$(printf %s "$DIR" | md5sum | cut -c1-12)"
  rm -rf "$M"
  install -o munge -g munge -m 0700 -d "$M"
  install -o munge -g munge -m 0600 /etc/munge/munge.key "$M/munge.key"
  runuser -u munge -- /usr/sbin/munged --socket="$M/munge.sock" --key-file="$M/munge.key" \
    --pid-file="$M/munged.pid" --log-file="$M/munged.log" --seed-file="$M/munged.seed" --force
  for _ in $(seq 1 50); do [ -S "$M/munge.sock" ] && break; sleep 0.1; done
  cp "$M/munged.pid" "$DIR/munged.pid"
  chmod 0711 "$M"
  echo "$M" > "$DIR/munge-dir"

  local cpus mem
  cpus="$(nproc)"
  mem="$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)"
  cat > "$DIR/slurm.conf" <<EOF
ClusterName=plab
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$M/munge.sock
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=256
DependencyParameters=kill_invalid_depend
SchedulerType=sched/backfill
# Dependencies and the queue are evaluated every second (the default is once a minute: a merge would idle after its array).
SchedulerParameters=sched_interval=1,bf_interval=1,sched_min_interval=100000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  export SLURM_CONF="$DIR/slurm.conf"
  /usr/sbin/slurmctld -i -f "$SLURM_CONF"
  /usr/sbin/slurmd -N "$NODE" -f "$SLURM_CONF"
  for _ in $(seq 1 100); do
    if sinfo -h -n "$NODE" -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "export SLURM_CONF=$SLURM_CONF" > "$DIR/env"
      cat "$DIR/env"
      return 0
    fi
    sleep 0.1
  done
  log "the node did not become idle; see $DIR/slurmctld.log and $DIR/slurmd.log"
  sinfo >&2 || true
  exit 1
}

case "${1:-}" in
  setup) setup ;;
  start) start ;;
  stop) stop ;;
  status) SLURM_CONF="$DIR/slurm.conf" sinfo; SLURM_CONF="$DIR/slurm.conf" squeue ;;
  *) echo "usage: $0 setup|start|stop|status" >&2; exit 2 ;;
esac
