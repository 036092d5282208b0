#!/usr/bin/env bash
# A Vulkan driver for SAPIEN (ManiSkill3), which needs a Vulkan device even for state observations.
#   scripts/vulkan_setup.sh            check; install when root with apt; else print the commands
#   scripts/vulkan_setup.sh --check    check only (exit 1 when no usable driver is installed)
# - NVIDIA GPU: its driver's Vulkan ICD is used; nothing is installed.
# - No NVIDIA GPU: Mesa's lavapipe (CPU Vulkan) >= 25 is needed. bookworm's Mesa 22.3.6 lavapipe is
#   refused by SAPIEN ("Failed to find a supported physical device"); on Debian bookworm Mesa 25
#   comes from bookworm-backports. Installing it upgrades the system's Mesa GL stack
#   (libgl1-mesa-dri, libegl-mesa0, libglx-mesa0, libgbm1, libosmesa6, libdrm*) to 25.x too.
set -euo pipefail
MIN_MESA=25
CHECK_ONLY=0
[ "${1:-}" = "--check" ] && CHECK_ONLY=1
APT_OPTS=(-o DPkg::Lock::Timeout=600)

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  if ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json \
       >/dev/null 2>&1; then
    echo "vulkan: NVIDIA GPU; using the NVIDIA Vulkan driver"
  else
    echo "vulkan: NVIDIA GPU found, but no nvidia_icd.json in /usr/share/vulkan/icd.d or" \
         "/etc/vulkan/icd.d: install your driver's Vulkan/GL part (e.g. libnvidia-gl-<version>)" >&2
  fi
  exit 0
fi

mesa_major() {  # major version of an installed (or candidate) mesa-vulkan-drivers, or empty
  local v=$1
  v=${v#*:}            # epoch
  echo "${v%%.*}"
}

installed=$(dpkg-query -W -f='${Status} ${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$installed" in
  "install ok installed "*)
    ver=${installed##* }
    major=$(mesa_major "$ver")
    if [ -n "$major" ] && [ "$major" -ge "$MIN_MESA" ] && \
       ldconfig -p 2>/dev/null | grep 'libvulkan.so.1' >/dev/null; then   # not grep -q: with
      # pipefail, grep -q quitting early kills ldconfig with SIGPIPE and the test fails
      echo "vulkan: Mesa lavapipe $ver (CPU Vulkan) is installed"
      exit 0
    fi
    echo "vulkan: mesa-vulkan-drivers $ver is too old for SAPIEN (needs >= $MIN_MESA)" ;;
  *)
    if ! command -v dpkg-query >/dev/null 2>&1; then
      if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
        echo "vulkan: a lavapipe ICD is installed (not a dpkg system: its version is not" \
             "checked; SAPIEN needs Mesa >= $MIN_MESA)"
        exit 0
      fi
      echo "vulkan: no Vulkan driver found; install Mesa >= $MIN_MESA's lavapipe (the" \
           "'mesa-vulkan-drivers' / 'vulkan-swrast' package of your distribution) and the" \
           "Vulkan loader (libvulkan1 / vulkan-icd-loader)" >&2
      exit 1
    fi
    echo "vulkan: no Vulkan driver installed" ;;
esac
[ "$CHECK_ONLY" = 1 ] && exit 1

codename=$( . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}" )
candidate=$(apt-cache policy mesa-vulkan-drivers 2>/dev/null | sed -n 's/^ *Candidate: //p')
cmds=()
if [ "$codename" = bookworm ]; then
  # the Debian mirror this machine already uses (deb822 sources first, then sources.list)
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | \
           grep -v -- '-security' | head -n1 || true)
  [ -z "$mirror" ] && mirror=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' \
                               /etc/apt/sources.list 2>/dev/null || true)
  mirror=${mirror%% *}
  mirror=${mirror:-http://deb.debian.org/debian}
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  body="Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "vulkan: adding $src ($mirror)"
      printf '%s\n' "$body" > "$src.tmp.$$" && mv "$src.tmp.$$" "$src"
    fi
    echo "vulkan: installing mesa-vulkan-drivers libvulkan1 from bookworm-backports (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -qq \
      --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
    exec "$0" --check
  fi
  cmds+=("sudo tee $src >/dev/null <<'EOF'" "$body" "EOF"
         "sudo apt-get update"
         "sudo apt-get install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1")
elif [ -n "$candidate" ] && [ "$candidate" != "(none)" ] && \
     [ "$(mesa_major "$candidate")" -ge "$MIN_MESA" ] 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "vulkan: installing mesa-vulkan-drivers $candidate libvulkan1 (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -qq \
      --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
    exec "$0" --check
  fi
  cmds+=("sudo apt-get install -y --no-install-recommends mesa-vulkan-drivers libvulkan1")
else
  echo "vulkan: this system's apt offers mesa-vulkan-drivers ${candidate:-(none)}; SAPIEN needs" \
       "Mesa >= $MIN_MESA's lavapipe: install it from your distribution's backports or a newer" \
       "release, or use a machine with an NVIDIA GPU" >&2
  exit 1
fi
echo "vulkan: not root: to let SAPIEN run on the CPU, run these commands:" >&2
printf '    %s\n' "${cmds[@]}" >&2
exit 1
