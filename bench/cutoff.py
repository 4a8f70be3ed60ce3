"""Benchmark: what the dependency date cutoff costs and changes in a real build (PyPI, network).

    PYTHONPATH=src .venv/bin/python bench/cutoff.py --spec pypi:toolz==1.2.0 --date 2024-03-15

Builds the snapshot's environment twice in a fresh CODEKILN_HOME (so nothing is cached but pip's own
cache, given by --pip-cache or fresh too): once with no date (the venv's own pip, today's versions) and
once as of `--date` (codekiln's pip with `--uploaded-prior-to`, see envs.cutoff), and prints each
build's step times, what the probe decided and took, and the test tools each venv got.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="pypi:toolz==1.2.0")
    parser.add_argument("--date", default="2024-03-15T12:00:00+00:00")
    parser.add_argument("--pip-cache", default="", help="pip cache to share (default: a fresh one)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="codekiln-bench-cutoff-"))
    os.environ["CODEKILN_HOME"] = str(home)
    if args.pip_cache:
        os.environ["CODEKILN_PIP_CACHE"] = args.pip_cache
    from codekiln.envs import build_env
    from codekiln.envs.cutoff import pip_sources, probe_index

    t = time.monotonic()
    probed = [s if s.local else probe_index(s.url, ("pytest",)) for s in pip_sources({})]
    print(f"probe: {time.monotonic() - t:.2f} s: {probed}")
    for label, date in (("no date", ""), (f"as of {args.date}", args.date)):
        t = time.monotonic()
        env = build_env(args.spec, deps_date=date)
        took = time.monotonic() - t
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in env.steps_s.items())
        tools = [
            p for p in env.packages if p.split("==")[0].lower() in ("pytest", "pluggy", "pip", "setuptools")
        ]
        print(f"{label}: {took:.1f} s ({steps}); {env.summary_line()}; {' '.join(tools)}")
        print(f"  cutoff: {env.recipe.cutoff_note or 'none (no date)'}")
    print(f"home: {home}", file=sys.stderr)


if __name__ == "__main__":
    main()
