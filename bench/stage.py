"""Benchmark: what `core.stage` costs when a run opens its output directory, on logs the size real runs
reach (rollouts.jsonl holds whole trajectories: hundreds of MB are ordinary).

    .venv/bin/python bench/stage.py                  # 20 MB and 200 MB logs, in a temporary directory
    .venv/bin/python bench/stage.py --mb 50 --runs 9

Per log size: dropping a torn tail with `drop_torn_tail` (reads back from the end) beside the cut synth
used before (`cut_torn_tail`, which read the whole file), both on the same freshly written and fsynced
log; then `open_stage` (lock + torn-tail check) on a whole log. Medians; the disk cache is warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codekiln.core.stage import Layout, drop_torn_tail, open_stage

LINE = 20_000  # bytes per row, about one short trajectory


def old_cut(path: Path) -> None:
    """tasks/synth.py's cut_torn_tail before core.stage: the whole file read to find the last newline."""
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with path.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
            fh.flush()
            os.fsync(fh.fileno())


def write_log(path: Path, mb: int) -> None:
    pad = b"x" * LINE
    with path.open("wb") as fh:
        for i in range(mb * 1_000_000 // LINE):
            fh.write(b'{"id": "%d", "pad": "%s"}\n' % (i, pad))
        fh.write(b'{"id": "torn", "pad": "xxxx')
        fh.flush()
        os.fsync(fh.fileno())


def timed(fn: Callable[[], object], setup: Callable[[], None], runs: int) -> float:
    times = []
    for _ in range(runs):
        setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, action="append", help="log sizes in MB (default: 20 and 200)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    layout = Layout("items", logs=("items.jsonl",))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        log = out / "items.jsonl"
        print(
            f"{'log':>7}  {'old cut (whole read)':>21}  {'drop_torn_tail':>15}  {'ratio':>6}  {'open_stage':>10}"
        )
        for mb in args.mb or [20, 200]:
            old = timed(lambda: old_cut(log), lambda mb=mb: write_log(log, mb), args.runs)
            new = timed(lambda: drop_torn_tail(log), lambda mb=mb: write_log(log, mb), args.runs)

            def reopen() -> None:
                with open_stage(out, layout):
                    pass

            opened = timed(reopen, lambda: None, args.runs * 4)
            print(
                f"{mb:>4} MB  {old * 1000:>18.1f} ms  {new * 1000:>12.2f} ms  {old / new:>5.0f}x"
                f"  {opened * 1000:>7.2f} ms"
            )


if __name__ == "__main__":
    main()
