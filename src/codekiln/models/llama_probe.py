"""Whether the installed llama.cpp build runs on this CPU, asked once in a child process.

    check_llama_build(Path("model.gguf"))   # returns, or raises ModelError naming the fix

llama-cpp-python compiles llama.cpp for the machine that builds it (`-march=native`). A wheel built on,
or cached from, a CPU with instructions this one lacks or does not enable (AMX tiles in a VM, AVX-512)
loads fine and then dies on the first matrix product with SIGILL: the whole process, with no Python
error, the run's finished work kept but nothing said about why. The check evaluates two tokens in a
child process first; a child killed by SIGILL becomes a ModelError saying how to rebuild. A build that
passed is remembered in $CODEKILN_HOME/probes, keyed by the library files and the CPU's flags.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.core.errors import ModelError

PORTABLE_CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
REBUILD_HINT = (
    f'rebuild it for any x86-64 CPU with AVX2: CMAKE_ARGS="{PORTABLE_CMAKE_ARGS}" pip install '
    "--force-reinstall --no-deps --no-cache-dir llama-cpp-python==0.3.36 (scripts/setup.sh does this)"
)
PROBE = (
    "import sys, llama_cpp\n"
    "llm = llama_cpp.Llama(sys.argv[1], n_ctx=64, n_threads=1, verbose=False)\n"
    "llm.eval(llm.tokenize(b'hello world', add_bos=False))\n"
)
_CHECKED: set[str] = set()


def _build_key(probe: str) -> str:
    """The llama.cpp libraries' names, sizes and times, this CPU's flags and the probe: what the answer
    depends on."""
    import llama_cpp

    lib = Path(llama_cpp.__file__).parent / "lib"
    files = sorted(p for p in lib.glob("*") if p.is_file()) if lib.is_dir() else []
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    text = json.dumps([llama_cpp.__version__, stats, flags, probe])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_llama_build(gguf: Path, probe: str = PROBE) -> None:
    """Return when llama.cpp evaluates tokens on this CPU; a ModelError with the rebuild command when the
    child running `probe` (Python code given the GGUF path as argv[1]) dies of SIGILL. Other failures
    are left to the real load, which names them."""
    key = _build_key(probe)
    marker = state_dir("probes") / f"llama-{key}.ok"
    if key in _CHECKED or marker.is_file():
        _CHECKED.add(key)
        return
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(gguf)], capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        return  # a slow machine: nothing learnt, the real load goes ahead
    if done.returncode == -signal.SIGILL:
        raise ModelError(
            "the installed llama-cpp-python was compiled for CPU instructions this machine does not run "
            "(its first token died of SIGILL, 'Illegal instruction')",
            hint=REBUILD_HINT,
        )
    if done.returncode == 0:
        marker.write_text("ok\n")
        _CHECKED.add(key)
