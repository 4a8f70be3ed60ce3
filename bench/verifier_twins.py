"""The exported Harbor verifier's twin step's cost (`grading.verifier_twin`): its `tests/test.sh` on the
gold's tree, exported with the twins off and on.

    .venv/bin/python bench/verifier_twins.py                        # toolz, 4 tasks, 3 rounds
    .venv/bin/python bench/verifier_twins.py --tasks 2 --rounds 5
    .venv/bin/python bench/verifier_twins.py --tasks-file $CODEKILN_HOME/test-cache/recorded-toolz/tasks.jsonl

Needs root and bwrap. The gold patch of each task (synthesized once into CODEKILN_HOME/bench-cache, as
`bench/grade.py` does; or read from `--tasks-file`) is applied to the exported task's starting tree, and `tests/test.sh` runs as root
in a bwrap sandbox laid out as the task's container (`tests/audit/test_verifier_isolation.as_root`: the
tests dropped to `nobody`), timed inside the sandbox: `off` (exported with `GradePolicy(twins=False)`:
one run) and `on` (the default: the real run and the twin's, the container put back before each, in a
drawn order), interleaved round by round so load hits both alike. Prints per task the medians, their
ratio and whether the task keeps a twin (one without costs nothing: one run), and the median ratio of
the tasks that keep one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from codekiln.envs import EnvRecord, load_env
from codekiln.grading import GradePolicy
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.records import TaskRecord

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "audit"))
from grade import bench_tasks
from test_verifier_isolation import as_root

TIMED = 'a=$(date +%s%N); bash /tests/test.sh >/dev/null 2>&1; b=$(date +%s%N); echo "took $(( (b - a) / 1000000 ))"'


def gold_tree(t: TaskRecord, folder: Path, into: Path) -> None:
    """The exported task's starting tree, prepared as its image is, the gold applied."""
    into.mkdir()
    with tarfile.open(folder / "environment" / "testbed.tar.gz") as tar:
        tar.extractall(into, filter="tar")
    subprocess.run(
        ["bash", str(folder / "environment" / "prepare.sh"), str(into)], check=True, capture_output=True
    )
    subprocess.run(["git", "-C", str(into), "apply", "-"], input=t.patch, text=True, check=True)


def timed(env: EnvRecord, folder: Path, tree: Path, work: Path) -> tuple[float, dict[str, object]]:
    """Seconds `tests/test.sh` took on a fresh copy of `tree`, and its grade.json."""
    testbed, tests, logs = work / "testbed", work / "tests", work / "logs"
    shutil.copytree(tree, testbed, symlinks=True)
    shutil.copytree(folder / "tests", tests)
    logs.mkdir()
    out = as_root(env, [(testbed, "/testbed"), (tests, "/tests"), (logs, "/logs")], {}, TIMED)
    took = [line for line in out.splitlines() if line.startswith("took ")]
    grade = json.loads((logs / "verifier" / "grade.json").read_text())
    if not took or grade.get("outcome") != "resolved":
        raise SystemExit(
            f"the gold did not resolve: {grade.get('outcome')} {grade.get('detail')}\n{out[-2000:]}"
        )
    return int(took[-1].split()[1]) / 1000, grade


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spec", default="pypi:toolz==1.2.0", help="the library to synthesize tasks from")
    parser.add_argument("--tasks", type=int, default=4, help="how many tasks to grade")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per task")
    parser.add_argument("--tasks-file", type=Path, help="tasks already made (tasks.jsonl), not synthesized")
    args = parser.parse_args()
    ratios = []
    made = (
        read_tasks(args.tasks_file)[: args.tasks] if args.tasks_file else bench_tasks(args.spec, args.tasks)
    )
    for t in made:
        env = load_env(t.environment_id or "")
        with tempfile.TemporaryDirectory(prefix="bench-vtwin-") as scratch:
            work = Path(scratch)
            folders = {
                "off": export_harbor_task(t, work / "off", policy=GradePolicy(twins=False)),
                "on": export_harbor_task(t, work / "on"),
            }
            state = json.loads((folders["on"] / "tests" / "codekiln" / "state.json").read_text())
            kept = len((state.get("twin") or {}).get("ids", []))
            gold_tree(t, folders["on"], work / "tree")
            times: dict[str, list[float]] = {"off": [], "on": []}
            twin_runs: list[float] = []
            for n in range(args.rounds):
                for side, folder in folders.items():
                    took, grade = timed(env, folder, work / "tree", work / f"{side}-{n}")
                    times[side].append(took)
                    if side == "on" and "twin" in grade:
                        twin_runs.append(float(grade["twin"]["duration_s"]))  # type: ignore[index]
                time.sleep(0.5)
        off, on = (statistics.median(times[s]) for s in ("off", "on"))
        if kept:
            ratios.append(on / off)
        twin = f", twin's test run {statistics.median(twin_runs):.2f} s" if twin_runs else ""
        print(f"{t.instance_id}: kept ids {kept}; off {off:.2f} s, on {on:.2f} s ({on / off:.2f}x){twin}")
    if ratios:
        print(f"median on/off of the {len(ratios)} tasks that keep a twin: {statistics.median(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
