#!/usr/bin/env bash
# Set up everything Voxshift needs on a fresh Debian/Ubuntu machine: system packages (when root),
# a .venv with pinned Python dependencies. Idempotent: a rerun only does what is missing.
#   scripts/setup.sh          runtime + test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  libportaudio2                    # PortAudio: the sounddevice wheel does not bundle it on Linux
  jackd2                           # JACK dummy server: the tests stream real audio through it
  espeak-ng                        # speaks test sentences
  gcc libc6-dev                    # builds the C audio callback (audio/vxcallback.c)
  libglib2.0-0 libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3   # Qt (offscreen)
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
  libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 xvfb xauth                # Qt in a real X window
)

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "[setup] installing system packages: ${missing[*]}"
      apt-get update -q >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "[setup] missing system packages (run as root or: sudo apt-get install ${missing[*]})" >&2
    fi
  fi
fi

PY=${PYTHON:-python3}
stamp=.venv/.voxshift-deps
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing Python dependencies into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps "pynput>=1.7.6"   # see requirements.lock
  # RNNoise's library and weights (noise suppression): only its librnnoise is loaded, so without
  # the wheel's file-conversion dependencies (audiolab/FFmpeg, matplotlib, click); dsp/rnnoise.py
  .venv/bin/python -m pip install -q --no-deps "pyrnnoise==0.4.5"
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
# The C audio callback (audio/native.py): built once per source version; the app falls back to the
# Python callback if this fails.
.venv/bin/python -m audio.native >/dev/null || echo "[setup] C audio callback not built: the Python callback will be used"
