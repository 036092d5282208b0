#!/usr/bin/env bash
# Set up Pitwall in ./.venv on a fresh machine; safe to run again (it skips what is done).
#   scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh mujoco,dev
# On a machine without an NVIDIA GPU, torch is pinned to the CPU build (constraints/cpu.txt);
# on a GPU box the user's own torch is kept (set PITWALL_CONSTRAINTS to force a file).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${1:-mujoco}
PY=${PYTHON:-python3}

if [ -z "${PITWALL_CONSTRAINTS+x}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    PITWALL_CONSTRAINTS=""
  else
    PITWALL_CONSTRAINTS=constraints/cpu.txt
  fi
fi

# system packages the tests use: tmux (TUI smoke test), xvfb (windowed viewers), EGL/OSMesa
# (offscreen MuJoCo rendering). Installed only when missing and when we may.
need=()
libs=$(ldconfig -p 2>/dev/null || true)   # read whole: `ldconfig | grep -q` dies of SIGPIPE
case ",$EXTRAS," in *,dev,*)
  command -v tmux >/dev/null 2>&1 || need+=(tmux)
  command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
  [[ $libs == *libEGL.so.1* ]] || need+=(libegl1)
  [[ $libs == *libOSMesa* ]] || need+=(libosmesa6)
  # a throw-away single-node Slurm for tests/slurm (scripts/slurm_local.sh starts it)
  if command -v dpkg >/dev/null 2>&1; then
    for p in slurmctld slurmd slurm-client munge slurmdbd mariadb-server; do
      dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
  fi
  ;; esac
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]} (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: please install these system packages: ${need[*]}" >&2
  fi
fi

# ManiSkill3 (extra maniskill): SAPIEN needs a Vulkan device even for state observations. With an
# NVIDIA GPU its driver's Vulkan ICD is used and nothing is installed. Without one, Mesa >= 25's
# lavapipe (CPU Vulkan) is needed: on Debian bookworm it comes from bookworm-backports (this also
# upgrades the system's Mesa GL stack to 25.x; MuJoCo's EGL and OSMesa still render under it).
case ",$EXTRAS," in *,maniskill,*)
  scripts/vulkan_setup.sh || echo "setup: no working Vulkan driver yet; ManiSkill envs will not start (see above)" >&2
  ;; esac

[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.pitwall-setup-$(echo "$EXTRAS $PITWALL_CONSTRAINTS" | tr ' ,/' '___')"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || \
   { [ -n "$PITWALL_CONSTRAINTS" ] && [ "$PITWALL_CONSTRAINTS" -nt "$stamp" ]; }; then
  .venv/bin/python -m pip install -q --upgrade pip
  args=(-e ".[$EXTRAS]")
  [ -n "$PITWALL_CONSTRAINTS" ] && args=(-c "$PITWALL_CONSTRAINTS" "${args[@]}")
  .venv/bin/python -m pip install -q "${args[@]}"
  touch "$stamp"
fi
