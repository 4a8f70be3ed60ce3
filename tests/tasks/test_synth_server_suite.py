"""Synthesis on a suite of s3fs 2026.9.0's shape: one test file holds nearly every test, a
module-scoped fixture starts a local server (s3fs: moto's, on a port of 127.0.0.1) and each test
resets it and sets its data up through it, one test is slow, and one test function has more cases
than the coverage map samples. Every candidate's hidden file is then that one file, so what a task
costs the grader is the same for all of them, and the whole file is graded in each of the first
batch's grader runs. Real environment, coverage run, validation and grader in bwrap sandboxes:

- the first candidates are ordered by what the engine runs too (`selection.validation_cost`): a bug
  that only the fast tests observe goes before one the slow test observes, though both cost the grader
  the same file;
- a test that passes in the baseline but not under the grader (its `multiprocessing` child imports
  the test module, whose source the guard hides: s3fs's `test_no_connection_sharing_among_processes`)
  is left out of the task whose hidden file holds it, which the grader rejected as `gold_failed`
  (`own_reads.unpassing_tests`);
- the first batch's audited task is gold-graded by the shared run, which ran exactly its tests (its
  file's every case, the ones the map left out of its sample included) and the one left out: two
  grader runs, the shared run and the empty patch's, not three (`gate.GraderGate.shared_gold`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.envs import build_env
from codekiln.grading.cases import CASES_PER_TEST
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, plan_candidates
from codekiln.tasks.validation import gate
from codekiln.tasks.validation.coverage_map import coverage_map
from codekiln.tasks.validation.own_reads import left_out_note
from codekiln.tasks.validation.selection import WINDOW, ordered_for_synthesis, passing_sample, selected_tests
from codekiln.tasks.validation.validate import Validator
from codekiln.testing.git import write_files

SLEEP_S = 1.2
MANY = CASES_PER_TEST + 8
SLOW_TEST = "tests/test_store.py::test_bulk_put"
SCALED = "kvstore/__init__.py::scaled"
SPAWNING = "tests/test_store.py::test_in_a_spawned_process"

FILES = {
    "pyproject.toml": """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "kvstore"
version = "0.1"
[tool.setuptools]
packages = ["kvstore"]
""",
    "kvstore/__init__.py": '''
import json
import urllib.request


class Client:
    """A client of a key-value server over HTTP."""

    def __init__(self, base):
        self.base = base.rstrip("/")

    def get(self, key):
        with urllib.request.urlopen(self.url(key)) as resp:
            return json.loads(resp.read())

    def put(self, key, value):
        req = urllib.request.Request(self.url(key), data=json.dumps(value).encode(), method="PUT")
        urllib.request.urlopen(req).close()

    def put_many(self, items):
        count = 0
        for key, value in items.items():
            self.put(key, value)
            count += 1
        return count

    def url(self, key):
        return f"{self.base}/{normalize(key)}"


def normalize(key):
    if not key:
        raise ValueError("empty key")
    return key.strip("/").lower()


def scaled(values, factor):
    return [v * factor for v in values]
''',
    "tests/__init__.py": "",
    "tests/test_store.py": f"""
import json
import multiprocessing
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kvstore import Client, normalize, scaled

DATA = {{}}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        key = self.path.strip("/")
        if key not in DATA:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(DATA[key]).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        DATA[self.path.strip("/")] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def do_POST(self):  # /reset
        DATA.clear()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{{srv.server_address[1]}}"
    srv.shutdown()


@pytest.fixture
def client(server):
    # each test starts from an empty store with its data put through the server, as s3fs's reset moto
    urllib.request.urlopen(urllib.request.Request(server + "/reset", data=b"", method="POST")).close()
    c = Client(server)
    c.put("seed", {{"n": 1}})
    return c


def test_get_put(client):
    client.put("A", [1, 2])
    assert client.get("a") == [1, 2]
    assert client.get("seed") == {{"n": 1}}


def test_bulk_put(client):
    time.sleep({SLEEP_S})
    assert client.put_many({{"x": 1, "y": 2}}) == 2
    assert client.get("y") == 2


@pytest.mark.parametrize("n", range({MANY}))
def test_normalize(n):
    assert normalize(f"/Key{{n}}/") == f"key{{n}}"
    with pytest.raises(ValueError):
        normalize("")


def test_scaled():
    assert scaled([2, 1], 3) == [6, 3]


def _child():
    pass


def test_in_a_spawned_process():
    # the child imports this module to find its target, as s3fs's ProcessPoolExecutor's do
    child = multiprocessing.get_context("spawn").Process(target=_child)
    child.start()
    child.join(60)
    assert child.exitcode == 0
""",
}


def _candidate(root: Path, entity: str, old: str, new: str) -> Candidate:
    rel = "kvstore/__init__.py"
    text = (root / rel).read_text()
    assert old in text
    patch = make_diff(rel, text, text.replace(old, new, 1))
    return Candidate(
        id=diff_hash(patch)[:16], patch=patch, mutators=["hand_made"], entities=[entity], files=[rel], seed=0
    )


pytestmark = pytest.mark.root  # environments, coverage, validation and grading in bwrap sandboxes


def test_a_one_file_server_suite_orders_by_the_engine_and_grades_the_audited_gold_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_files(tmp_path / "kvstore-src", FILES)
    env = build_env(str(root))
    cmap = coverage_map(env)
    assert cmap.durations[SLOW_TEST] >= SLEEP_S
    assert env.baseline[SPAWNING] == "passed"
    passing = passing_sample(env.baseline)
    assert len(passing) < sum(1 for s in env.baseline.values() if s == "passed"), "the map samples its cases"

    # a seed whose seeded order tries a candidate the slow test observes first, with one in `scaled`
    # (observed by one fast test) among the candidates that `cheap_first` may move to the front
    for seed in range(50):
        entities, seeded, _ = plan_candidates(env, SynthConfig(spec=str(root), out=tmp_path / "o", seed=seed))
        by_id = {e.id: e for e in entities}
        if SLOW_TEST in selected_tests(cmap, passing, seeded[0], by_id) and any(
            c.entities == [SCALED] for c in seeded[:WINDOW]
        ):
            break
    else:
        pytest.fail("no seed of 50 puts a candidate observed by the slow test first")
    ordered = ordered_for_synthesis(seeded, cmap, env.baseline, by_id)
    # every candidate costs the grader the same file: the engine's runs put the fast one first
    assert ordered[0].entities == [SCALED], ordered[0].entities

    # the first batch, of one task (`scaled` multiplies by one less), with its audit
    bug = _candidate(root, SCALED, "v * factor", "v * (factor - 1)")
    runs: list[str] = []
    real: Callable[..., Any] = gate.grade_patch

    def counted(task: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(getattr(task, "source", ""))
        return real(task, *args, **kwargs)

    monkeypatch.setattr(gate, "grade_patch", counted)
    with Validator(env, cmap, entities) as v:
        (decision,) = v.validate([bug])
        assert (v.gold_cache.gated, v.gold_cache.audited) == (1, 1)
    assert isinstance(decision, TaskRecord), decision
    graded = {*decision.FAIL_TO_PASS, *v.gate.graded_tests(decision)}
    assert {f"tests/test_store.py::test_normalize[{n}]" for n in range(MANY)} <= graded, "every case"
    assert SLOW_TEST in decision.PASS_TO_PASS, "the whole hidden file"
    assert decision.left_out == [SPAWNING] and SPAWNING not in graded
    assert decision.validation is not None
    detail = decision.validation.detail
    assert detail.startswith("grader: gold resolved by the shared run of exactly its tests ("), detail
    assert detail.endswith(f"empty patch unresolved; {left_out_note([SPAWNING])}"), detail
    assert len(runs) == 2 and runs[0] == "clean", "the shared run and the empty patch's grade, no gold grade"
