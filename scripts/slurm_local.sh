#!/usr/bin/env bash
# A throw-away single-node Slurm on this machine, for the tests and benchmarks (root, Debian 12,
# no systemd, no cgroups): munged, mariadbd + slurmdbd (for sacct), slurmctld, slurmd, all with
# their state, logs and sockets under BASE.
#   scripts/slurm_local.sh up   [BASE]   then: export SLURM_CONF=BASE/etc/slurm.conf
#   scripts/slurm_local.sh down [BASE]
# Environment: WITH_DBD=0 skips slurmdbd/mariadb (no sacct); NCPU (default nproc);
# CRED_EXPIRE (default 5 s: how long a requeued job waits before it may start again; Slurm's
# own default is 120 s); INSTALL=1 installs the Debian packages when missing (as root);
# CTLD_PORT, SLURMD_PORT, DBD_PORT, DB_PORT (defaults 6817, 6818, 6819, 3307) so that two
# clusters (two test sessions) can run on one machine.
set -euo pipefail
CMD=${1:?usage: slurm_local.sh up|down [BASE]}
BASE=${2:-${BASE:-${TMPDIR:-/tmp}/pitwall-slurm}}
WITH_DBD=${WITH_DBD:-1}; NCPU=${NCPU:-$(nproc)}; CRED_EXPIRE=${CRED_EXPIRE:-5}
CTLD_PORT=${CTLD_PORT:-6817}; SLURMD_PORT=${SLURMD_PORT:-6818}; DBD_PORT=${DBD_PORT:-6819}
DB_PORT=${DB_PORT:-3307}
PKGS="slurmd slurmctld slurm-client munge"; [ "$WITH_DBD" = 1 ] && PKGS="$PKGS slurmdbd mariadb-server"
t0=$(date +%s%N)
stamp() { echo "slurm_local: $1 after $(( ($(date +%s%N) - t0) / 1000000 )) ms"; }

down() {
  local pids=() f p
  for f in run/slurmd.pid run/slurmctld.pid run/slurmdbd.pid db/mariadbd.pid munge/munged.pid; do
    p=$(cat "$BASE/$f" 2>/dev/null) || continue
    kill "$p" 2>/dev/null && pids+=("$p")
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  stamp "down (${#pids[@]} daemons stopped)"
}

if [ "$CMD" = down ]; then down; exit 0; fi
[ "$CMD" = up ] || { echo "usage: slurm_local.sh up|down [BASE]" >&2; exit 2; }

if ! dpkg -s $PKGS >/dev/null 2>&1; then
  if [ "${INSTALL:-0}" = 1 ] && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $PKGS >/dev/null
    stamp "packages installed"
  else
    echo "slurm_local: missing Debian packages: $PKGS (scripts/setup.sh installs them as root)" >&2
    exit 3
  fi
fi
down >/dev/null  # daemons of an earlier run with the same BASE
mkdir -p "$BASE"/{etc,state,spool,log,run,munge,db}
chmod 755 "$BASE" "$BASE/munge"
[ -f "$BASE/munge/munge.key" ] || {
  dd if=/dev/urandom of="$BASE/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$BASE/munge/munge.key"; }
SOCK=$BASE/munge/munge.socket.2
munged --socket="$SOCK" --key-file="$BASE/munge/munge.key" --log-file="$BASE/munge/munged.log" \
       --pid-file="$BASE/munge/munged.pid" --seed-file="$BASE/munge/munged.seed"
stamp "munged up"
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
cat > "$BASE/etc/slurm.conf" <<CONF
ClusterName=pitwall
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK,cred_expire=$CRED_EXPIRE
CredType=cred/munge
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/log/jobcomp.txt
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
MinJobAge=300
SchedulerParameters=sched_interval=2,bf_interval=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$BASE/etc/slurm.conf
if [ "$WITH_DBD" = 1 ]; then
  [ -d "$BASE/db/data/mysql" ] || mariadb-install-db --no-defaults --datadir="$BASE/db/data" \
      --user=root --auth-root-authentication-method=socket --skip-test-db \
      >"$BASE/log/mariadb-install.log" 2>&1
  mariadbd --no-defaults --datadir="$BASE/db/data" --socket="$BASE/db/mysqld.sock" --port="$DB_PORT" \
      --bind-address=127.0.0.1 --user=root --pid-file="$BASE/db/mariadbd.pid" \
      --log-error="$BASE/log/mariadb.log" --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
  for _ in $(seq 300); do
    mariadb -S "$BASE/db/mysqld.sock" -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.1
  done
  mariadb -S "$BASE/db/mysqld.sock" -uroot -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' \
      IDENTIFIED BY 'slurm'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  stamp "mariadb up"
  cat > "$BASE/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$BASE/log/slurmdbd.log
PidFile=$BASE/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
CONF
  chmod 600 "$BASE/etc/slurmdbd.conf"
  # slurmctld -> slurmdbd uses AccountingStoragePass as its munge socket, not AuthInfo
  printf 'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\nAccountingStoragePort=%s\nAccountingStoragePass=%s\n' \
      "$DBD_PORT" "$SOCK" >> "$BASE/etc/slurm.conf"
  slurmdbd
  for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/$DBD_PORT) 2>/dev/null && break; sleep 0.05; done
  sacctmgr -i add cluster pitwall >/dev/null 2>&1 || true
  stamp "slurmdbd up"
else
  echo "AccountingStorageType=accounting_storage/none" >> "$BASE/etc/slurm.conf"
fi
slurmctld
slurmd -N localhost
for _ in $(seq 150); do [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 0.2; done
if [ "$(sinfo -h -o %T 2>/dev/null)" != idle ]; then
  echo "slurm_local: the node did not become idle; logs:" >&2
  tail -n 20 "$BASE"/log/*.log >&2
  exit 1
fi
stamp "slurmctld + slurmd idle (SLURM_CONF=$SLURM_CONF)"
