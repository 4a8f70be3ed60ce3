"""The bench's rule for tests whose outcome is not deterministic (`bench/envflaky.py`): differing tests are
rerun on both sides; one seen with two statuses on a side is flaky and no difference, one stable on each
side that differs stays a difference. The plain reruns are real pytest runs of a small project whose
one test alternates between failing and passing (a counter file, so the alternation is certain)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import envflaky
from envflaky import add_reruns, rerun_plain, to_rerun
from envrun import plain_options
from envtests import Side, compare_tests, load_sides, plain_side, save_sides

BENCH = Path(__file__).resolve().parents[2] / "bench"
FLAKY = "tests/test_f.py::test_alternates"
STABLE = "tests/test_f.py::test_fails_plainly"
TESTS = """\
import os
from pathlib import Path


def test_alternates():
    counter = Path(os.environ["FLAKY_COUNTER"])
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    assert seen % 2 == 1, "fails on every other run"


def test_fails_plainly():
    assert False, "the same every time"


def test_same():
    pass
"""


def test_a_test_seen_with_two_statuses_on_one_side_is_flaky_not_a_difference() -> None:
    plain = Side({"t.py::a": "passed", "t.py::b": "passed"}, reruns={"t.py::a": ["passed", "skipped"]})
    ck = Side({"t.py::a": "skipped", "t.py::b": "passed"}, reruns={"t.py::a": ["skipped"] * 3})
    verdict, reason = compare_tests(plain, ck)
    assert verdict == "reproduced"
    assert reason == "1 flaky (not differences): t.py::a [plain passed/skipped; codekiln skipped]"


def test_a_test_stable_on_each_side_that_differs_stays_a_difference() -> None:
    plain = Side({"t.py::a": "passed", "t.py::c": "passed"}, reruns={"t.py::a": ["passed"] * 3})
    ck = Side(
        {"t.py::a": "failed", "t.py::c": "failed"},
        messages={"t.py::a": "assert 1 == 2"},
        reruns={"t.py::a": ["failed"] * 3, "t.py::c": ["passed"]},
    )
    verdict, reason = compare_tests(plain, ck)
    assert verdict == "tests differ"
    assert reason.startswith("1 fail only in codekiln: [codekiln: assert 1 == 2; plainly passed] t.py::a")
    assert reason.endswith("; 1 flaky (not differences): t.py::c [plain passed; codekiln failed/passed]")


def test_only_tests_both_sides_ran_and_that_differ_are_rerun() -> None:
    plain = Side({"tests/t.py::a": "passed", "tests/t.py::b": "passed", "tests/t.py::c": "passed"})
    ck = Side({"t.py::a": "failed", "t.py::b": "passed"})  # rootdir tests/; c is absent in codekiln
    assert to_rerun(plain, ck) == (["tests/t.py::a"], ["t.py::a"])


def test_reruns_are_kept_with_the_per_test_data(tmp_path: Path) -> None:
    plain = Side({"t.py::a": "passed"}, reruns={"t.py::a": ["passed", "failed"]})
    save_sides(tmp_path / "x.json.gz", plain, Side({"t.py::a": "failed"}))
    loaded = load_sides(tmp_path / "x.json.gz")
    assert loaded is not None and loaded[0].reruns == plain.reruns and loaded[1].reruns == {}


def test_real_reruns_find_the_alternating_test_flaky_and_keep_the_stable_difference(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_f.py").write_text(TESTS)
    (root / "pytest.ini").write_text("[pytest]\n")
    reports = tmp_path / "reports.json"
    env = {**os.environ, "PYTHONPATH": str(BENCH), "FLAKY_COUNTER": str(tmp_path / "counter")}
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plain_options(reports)]
    subprocess.run(argv, cwd=root, env=env, capture_output=True, timeout=120, check=False)
    plain = plain_side(json.loads(reports.read_text()))
    assert plain.statuses[FLAKY] == "failed" and plain.statuses[STABLE] == "failed"
    # codekiln's side as if its suite saw the opposite, every time: both tests pass there
    ck = Side({FLAKY: "passed", STABLE: "passed", "tests/test_f.py::test_same": "passed"})
    ck.reruns = {FLAKY: ["passed"] * envflaky.RERUNS, STABLE: ["passed"] * envflaky.RERUNS}
    p_ids, _ = to_rerun(plain, ck)
    assert p_ids == [FLAKY, STABLE]
    runs = rerun_plain(p_ids, root, [sys.executable, "-m", "pytest", "-p", "envreport",
                                     "--envreport-out", str(reports)], env, reports)  # fmt: skip
    assert len(runs) == envflaky.RERUNS and all(set(r) == {FLAKY, STABLE} for r in runs), runs
    add_reruns(plain, runs)
    assert plain.reruns == {FLAKY: ["passed", "failed", "passed"], STABLE: ["failed"] * 3}
    verdict, reason = compare_tests(plain, ck)
    assert verdict == "better"
    assert reason.startswith(f"codekiln passes 1 more: [plain: AssertionError: the same every time] {STABLE}")
    assert f"1 flaky (not differences): {FLAKY} [plain failed/passed; codekiln passed]" in reason


def test_a_module_skipped_on_one_side_and_not_run_on_the_other_is_no_difference() -> None:
    plain = Side({"tests/test_h.py": "skipped", "tests/test_s.py": "skipped", "tests/t.py::a": "passed"})
    ck = Side({"tests/test_s.py::b": "failed", "tests/t.py::a": "passed"})  # test_h.py: nothing of it ran
    verdict, reason = compare_tests(plain, ck)
    assert verdict == "tests differ" and "tests/test_h.py" not in reason
    assert "tests/test_s.py::b" in reason  # a test of a module skipped plainly that ran in codekiln
    assert compare_tests(Side({"tests/test_h.py": "skipped"}) , Side({"tests/test_h.py": "skipped"})) == (
        "reproduced", "")  # fmt: skip
