"""Benchmark: how long `codekiln synth` takes to stop after Ctrl-C while it validates (root: bwrap).

    PYTHONPATH=src .venv/bin/python bench/interrupt.py --repeat 3

Per try: starts `codekiln synth SPEC --max-tasks 400` (two workers, default batches) in a fresh output
directory of the current CODEKILN_HOME (its built environment is reused), waits for the first task
line plus `--after` seconds, sends SIGINT to its process group as a terminal's Ctrl-C does, and
prints the seconds until it exited, its exit code and the processes it left. Run it on a commit
before 'Ctrl-C stops synth in under a second' to get the baseline side by side.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codekiln.testing.procs import descendants, running


def one(spec: str, after: float, workers: int) -> tuple[float, int, int]:
    out = Path(tempfile.mkdtemp(prefix="codekiln-bench-interrupt-")) / "s"
    cmd = [sys.executable, "-c", "from codekiln.cli import main; main()", "synth", spec, "--out", str(out)]
    cmd += ["--max-tasks", "400", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    tasks = out / "tasks.jsonl"
    while not (tasks.is_file() and tasks.stat().st_size) and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(after)
    kids = descendants(proc.pid)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    code = proc.wait()
    took = time.monotonic() - sent
    time.sleep(0.3)
    return took, code, sum(running(k) for k in kids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="pypi:toolz==1.2.0")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--after", type=float, default=3.0, help="seconds after the first task line")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    times = []
    for i in range(args.repeat):
        took, code, left = one(args.spec, args.after, args.workers)
        times.append(took)
        print(f"try {i + 1}: stopped in {took:.2f} s, exit {code}, {left} processes left")
    print(f"median {statistics.median(times):.2f} s over {len(times)} tries")


if __name__ == "__main__":
    main()
