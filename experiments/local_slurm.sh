#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the Slurm launcher's tests and for trying
# `sweep --launcher=slurm` without a cluster. Needs Debian's slurm-wlm and munge (setup.sh installs
# them) and root; no systemd: the daemons run in the background and are stopped by their PID files.
#
#   experiments/local_slurm.sh start     # munged, slurmctld, slurmd; waits until the node is idle
#   export SLURM_CONF=/tmp/mrcnn-slurm/slurm.conf   # what `start` prints; clients need it
#   experiments/local_slurm.sh status    # sinfo, or exit 1 when the cluster is not up
#   experiments/local_slurm.sh stop      # the daemons this script started
#
# State, spool, logs and PID files live in $MRCNN_SLURM_DIR (default /tmp/mrcnn-slurm). The node has
# as many CPUs as the machine (nproc; $MRCNN_SLURM_CPUS overrides it, e.g. to run many sleeping fake
# trials at once in benchmarks/slurm/coordinator_scale.sh) and 90% of its memory. A real cluster has its own slurm.conf and
# munge key: this script is not for one.
set -euo pipefail

dir=${MRCNN_SLURM_DIR:-/tmp/mrcnn-slurm}
conf=$dir/slurm.conf
host=$(hostname -s)

die() { echo "local_slurm: $*" >&2; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

status() {
  [ -f "$conf" ] || return 1
  alive "$dir/slurmctld.pid" && alive "$dir/slurmd.pid" || return 1
  SLURM_CONF=$conf sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)' || return 1
}

write_conf() {
  local cpus mem_mb
  cpus=${MRCNN_SLURM_CPUS:-$(nproc)}
  mem_mb=$(awk '/MemTotal/ {printf "%d", $2 * 0.9 / 1024}' /proc/meminfo)
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  cat >"$conf" <<EOF
# Written by experiments/local_slurm.sh: a single-node cluster for tests.
ClusterName=mrcnn-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldPort=${MRCNN_SLURM_PORT:-6817}
SlurmdPort=$(( ${MRCNN_SLURM_PORT:-6817} + 1 ))
ReturnToService=2
# The node is what this file says (MRCNN_SLURM_CPUS may claim more CPUs than the machine has).
SlurmdParameters=config_overrides
MaxArraySize=100001
MaxJobCount=200000
MinJobAge=300
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

start() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (slurmd starts jobs as their users)"
  command -v slurmctld >/dev/null || die "slurmctld not found: run ./setup.sh (it installs slurm-wlm and munge)"
  if status; then
    echo "local_slurm: already running; export SLURM_CONF=$conf"
    return 0
  fi
  stop_daemons
  write_conf
  # munged runs as the munge user with its socket folder owned by it.
  if ! { pgrep -x munged >/dev/null && [ -S /run/munge/munge.socket.2 ]; }; then
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
    [ -f /etc/munge/munge.key ] || die "/etc/munge/munge.key is missing (reinstall munge)"
    runuser -u munge -- /usr/sbin/munged
    # Started here, so `stop` stops it too (a munged that was already running is left alone).
    for _ in $(seq 1 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$dir/munged.pid"
  fi
  SLURM_CONF=$conf slurmctld -f "$conf"
  SLURM_CONF=$conf slurmd -f "$conf"
  for _ in $(seq 1 100); do
    if status; then
      echo "local_slurm: up ($host, ${MRCNN_SLURM_CPUS:-$(nproc)} CPUs); export SLURM_CONF=$conf"
      return 0
    fi
    sleep 0.1
  done
  # A node that came back from an earlier run may be DOWN until told otherwise.
  SLURM_CONF=$conf scontrol update nodename="$host" state=resume 2>/dev/null || true
  for _ in $(seq 1 50); do
    if status; then
      echo "local_slurm: up ($host, ${MRCNN_SLURM_CPUS:-$(nproc)} CPUs); export SLURM_CONF=$conf"
      return 0
    fi
    sleep 0.1
  done
  echo "local_slurm: the node did not become idle; last lines of the logs:" >&2
  tail -n 5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  stop_daemons
  exit 1
}

stop_daemons() {
  local f pid
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munged.pid"; do
    if alive "$f"; then
      pid=$(cat "$f")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop_daemons; echo "local_slurm: stopped" ;;
  status)
    if status; then SLURM_CONF=$conf sinfo; else echo "local_slurm: not running" >&2; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
