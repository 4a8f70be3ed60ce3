"""Which tests execute which lines: a test -> lines map built once per environment, so that validating
a candidate bug runs only the tests that can notice it.

    cmap = coverage_map(env)                         # built on first use, then loaded from the cache
    cmap.tests_for({"toolz/itertoolz.py": {20, 21}})  # test ids that execute any of those lines
    cmap.durations["toolz/tests/test_itertoolz.py::test_remove"]   # seconds, measured under coverage

The suite runs once in a sandbox under coverage.py with one dynamic context per test (the
pytest node id, switched around each test's setup, call and teardown, so the ids are exactly those the
test runs report). It runs the command validation runs (`engine_command`: a benchmarked function
once, not timed in rounds), so its durations are those runs'. When the environment lacks coverage.py,
codekiln's own copy is lent to the run (beside the runner scripts, last on its sys.path, never
installed in the environment) when the
environment's Python reads the same compiled extensions (same CPython X.Y): its C tracer costs a
fraction of pure-Python tracing, which made a seconds-long suite take minutes. Otherwise
`sys.settrace` records the same map, more slowly. Lines run while modules are imported belong to no test.
Under coverage.py the Python processes a test starts (`python -m pkg`, a console script) are measured
too and their lines credited to that test (`in_sandbox/cover_child.py`): a suite that runs its package
only that way (trove-classifiers' CLI tests) selects those tests, and validation reaches the child
processes because a job's files are written to disk (`warm_runner`). The map is cached as
`coverage-map.json` in the environment's directory (rebuilt with `redo=True`); it also keeps each
test's status and duration in that run, and the lines that ran outside tests (at import time). The
run has a fixed hash seed (`mapping_env`), so set-ordered code maps the same lines on every machine.

When a test function has more than `grading.cases.CASES_PER_TEST` parametrized cases, only the
sample of the clean-passing tests runs (`sample_cases`: the tests validation selects from): the cases of one function run the same
code on other inputs, and mapping all of them made the map cost the whole suite (packaging 26.3:
62,423 tests, 3,358 in the sample). A suite with no such function runs whole, as before.
A suite whose baseline took longer than `LEAN_AFTER_S` runs its `lean` sample (`sample_cases(lean=
True)`: of each function's cases, the fewest holding every parameter value): mapping multidict 7.2.1's
3,494 sampled tests outlasted a short synthesis, most of them the same body over the C and the
pure-Python implementation; its lean sample is 1,769. Validation then selects from the map's sample.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import Field

from codekiln.core.diffs import parse_diff
from codekiln.core.errors import CodekilnError, TaskError
from codekiln.core.proc import tail
from codekiln.core.protocols import Sandbox
from codekiln.core.records import Record, atomic_write_json, load_json
from codekiln.envs import EnvRecord, env_sandbox
from codekiln.grading import unstable_ids
from codekiln.grading.cases import CASES_PER_TEST, sample_cases
from codekiln.grading.guard import same_bytecode
from codekiln.grading.guard_rewrites import PLAIN, REWRITES, rewrite_key
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.validation.engine_command import engine_command
from codekiln.tasks.validation.testexec import BASE_OPTIONS, COVER_RUNNER, RUNNER_DIR, install_runners

DATA = "/tmp/codekiln/coverage.json"
ONLY = "/tmp/codekiln/coverage-only.json"
LENT = f"{RUNNER_DIR}/lent"
MAPPING_HASH_SEED = "1"
"""The coverage run's hash seed (`mapping_env`): fixed, and not 0, which turns randomization off."""
LEAN_AFTER_S = 60.0
"""A suite whose baseline run took longer than this (seconds) is mapped on its lean sample (see the
module docstring); toolz's takes about 3 s, multidict 7.2.1's 485-615 s. A measured time: a suite
near it may be mapped on the other sample on another machine, and select from another sample."""
"""Where codekiln's coverage.py is copied for a run in an environment without one (see `lend_coverage`)."""


def lend_coverage(sandbox: Sandbox, venv: Path) -> bool:
    """Copy codekiln's coverage.py package under LENT in `sandbox` when the environment's Python can
    load its C tracer (the same CPython X.Y); the coverage runner appends LENT to sys.path only when
    the environment has no coverage.py of its own. False: nothing lent (settrace, or theirs, is used)."""
    try:
        import coverage
    except ImportError:
        return False
    if not same_bytecode(venv):
        return False
    package = Path(coverage.__file__).parent
    for path in sorted(package.rglob("*")):
        if (
            path.is_file()
            and "__pycache__" not in path.parts
            and path.suffix in (".py", ".so", ".pyi", ".typed")
        ):
            sandbox.write_file(f"{LENT}/coverage/{path.relative_to(package)}", path.read_bytes())
    return True


class CoverageMap(Record):
    """Lines of each repository file (relative path) -> indexes into `tests` of the tests running them."""

    schema_version: int = 4
    """4: lines run by the Python processes a test starts count for it (3 missed them: rebuilt).
    3: cases whose ids hold an address are named by the baseline's ids (2 named them as the coverage
    run did, which no selection matched)."""
    env_id: str
    engine: str = "coverage"
    tests: list[str] = Field(default_factory=list)
    lines: dict[str, dict[int, list[int]]] = Field(default_factory=dict)
    import_lines: dict[str, list[int]] = Field(default_factory=dict)
    """Lines run outside any test (while modules are imported): code a bug there changes at import."""
    durations: dict[str, float] = Field(default_factory=dict)
    statuses: dict[str, str] = Field(default_factory=dict)
    cases_per_test: int = 0
    """0: every test of the suite ran; else the cases of each test function were sampled to this many
    (`grading.cases.sample_cases`)."""
    lean: bool = False
    """The cases were sampled lean (`sample_cases(lean=True)`): validation selects from that sample."""

    def tests_for(self, lines: Mapping[str, Iterable[int]]) -> set[str]:
        """Ids of the tests that execute any of the given lines (file -> line numbers)."""
        found: set[int] = set()
        for rel, numbers in lines.items():
            per_line = self.lines.get(rel, {})
            for n in numbers:
                found.update(per_line.get(n, ()))
        return {self.tests[i] for i in found}

    def runs_at_import(self, lines: Mapping[str, Iterable[int]]) -> bool:
        """True if any of the given lines ran while modules were imported."""
        return any(set(self.import_lines.get(rel, ())) & set(numbers) for rel, numbers in lines.items())

    def duration(self, tests: Iterable[str]) -> float:
        """Seconds the given tests took in the coverage run (unknown tests count 0.1 s)."""
        return sum(self.durations.get(t, 0.1) for t in tests)


def touched_lines(patch: str) -> dict[str, set[int]]:
    """Lines of the original files a patch touches: removed lines, and for pure insertions the lines
    around the insertion point (repo-relative path -> 1-based line numbers)."""
    out: dict[str, set[int]] = {}
    for fp in parse_diff(patch):
        if fp.old_path is None:
            continue
        lines = out.setdefault(fp.old_path, set())
        for hunk in fp.hunks:
            pos = hunk.old_start
            removed, added = False, False
            for line in [*hunk.lines, None]:
                if line is not None and line.tag == "-":
                    lines.add(pos)
                    pos, removed = pos + 1, True
                elif line is not None and line.tag == "+":
                    added = True
                else:
                    if added and not removed:  # a pure insertion: the lines around it
                        lines.update((max(pos - 1, 1), pos))
                    removed = added = False
                    pos += 1
    return out


def _numbits(blob: bytes) -> list[int]:
    """coverage.py's numbits encoding: bit j of byte i set means line i * 8 + j ran."""
    return [i * 8 + j for i, byte in enumerate(blob) if byte for j in range(8) if byte & (1 << j)]


def read_coverage_db(path: Path, workdir: str) -> dict[str, dict[int, set[str]]]:
    """{relative file: {line: contexts}} from a coverage.py SQLite data file measured under `workdir`
    (the context "" holds what ran outside any test)."""
    prefix = workdir.rstrip("/") + "/"
    out: dict[str, dict[int, set[str]]] = {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT file.path, context.context, line_bits.numbits FROM line_bits "
            "JOIN file ON file.id = line_bits.file_id JOIN context ON context.id = line_bits.context_id"
        ).fetchall()
    except sqlite3.Error as err:
        raise TaskError(
            f"cannot read the coverage data: {err}", hint="rebuild the map: coverage_map(env, redo=True)"
        ) from err
    finally:
        con.close()
    for file, context, blob in rows:
        if not file.startswith(prefix):
            continue
        per_line = out.setdefault(file[len(prefix) :], {})
        for n in _numbits(blob):
            per_line.setdefault(n, set()).add(context)
    return out


def merge_contexts(into: dict[str, dict[int, set[str]]], more: dict[str, dict[int, set[str]]]) -> None:
    """Add `more`'s contexts per file and line to `into` (a child process's data to the run's)."""
    for rel, per_line in more.items():
        mine = into.setdefault(rel, {})
        for n, contexts in per_line.items():
            mine.setdefault(n, set()).update(contexts)


def _cache_path(env: EnvRecord) -> Path:
    return Path(env.venv).parent / "coverage-map.json"


def lean_suite(env: EnvRecord, lean_after_s: float = LEAN_AFTER_S) -> bool:
    """Whether `env`'s suite is mapped on its lean sample: its baseline took longer than `lean_after_s`."""
    return env.steps_s.get("baseline", 0.0) > lean_after_s


def mapping_env(env: EnvRecord) -> dict[str, str]:
    """The coverage run's environment: the suite's, with a fixed `PYTHONHASHSEED` unless the suite
    sets its own. A sandbox starts every process with a random one, so code that iterates a set of
    strings ran other lines in each mapping, and a fresh home (another machine, a rebuilt map) selected
    other tests for the same candidates."""
    return {"PYTHONHASHSEED": MAPPING_HASH_SEED, **env.test.env}


def keep_rewritten(sandbox: Sandbox, venv: Path) -> None:
    """Keep the test code the coverage run rewrote on the clean snapshot (`cover_runner`) for this
    process's later runs of the environment: the guarded runs (`REWRITES`) and validation's warm
    session (`PLAIN`), which start from it instead of rewriting (`grading.guard_rewrites`)."""
    key = rewrite_key(str(venv), sandbox.workdir)
    for cache, name in ((REWRITES, "rewritten.marshal"), (PLAIN, "rewritten-plain.marshal")):
        try:
            cache.keep(key, sandbox.read_file(f"{RUNNER_DIR}/{name}"))
        except (OSError, CodekilnError):
            pass


def build_coverage_map(env: EnvRecord, sandbox: Sandbox, *, lean: bool = False) -> CoverageMap:
    """Run the suite once in `sandbox` (a sandbox of `env`), its cases sampled (`lean`: the lean
    sample; see the module docstring), and record the map."""
    install_runners(sandbox)
    lent = lend_coverage(sandbox, Path(env.venv))
    passing = [t for t, status in env.baseline.items() if status == "passed"]
    sample = sample_cases(passing, lean=lean)  # what validation selects from
    sampled = len(sample) < len(passing)
    if sampled:
        sandbox.write_file(ONLY, json.dumps(sample))
    argv = [
        "python",
        COVER_RUNNER,
        DATA,
        *(["--lent", LENT] if lent else []),
        *(["--only", ONLY] if sampled else []),
        "--",
        *BASE_OPTIONS,
        *engine_command(env.test, env.packages).args,  # benchmarks run once (`engine_command`)
    ]
    res = sandbox.exec(
        argv, timeout=max(600.0, 5 * env.test.timeout_s), env=mapping_env(env), cwd=sandbox.workdir
    )
    keep_rewritten(sandbox, Path(env.venv))
    try:
        data = json.loads(sandbox.read_file(DATA))
    except (OSError, ValueError) as err:
        raise TaskError(
            f"the coverage run of {env.name} produced no data (exit code {res.exit_code}):\n{tail(res.output, 20)}",
            hint="check that the suite runs: codekiln env test " + env.snapshot_id,
        ) from err
    if data["engine"] == "coverage":
        with tempfile.TemporaryDirectory(prefix="codekiln-cov-") as tmp:
            db = Path(tmp) / "coverage.sqlite"
            db.write_bytes(sandbox.read_file(DATA + ".sqlite"))
            contexts = read_coverage_db(db, sandbox.workdir)
            for child in data.get("children", []):  # the processes tests started: one file each
                db.write_bytes(sandbox.read_file(child))
                merge_contexts(contexts, read_coverage_db(db, sandbox.workdir))
    else:
        prefix = sandbox.workdir.rstrip("/") + "/"
        contexts = {
            f[len(prefix) :]: {int(n): set(c) for n, c in per_file.items()}
            for f, per_file in data["lines"].items()
            if f.startswith(prefix)
        }
    # This run named the cases whose ids hold an address anew: back to the baseline's ids.
    found = set(data["statuses"]) | {c for per in contexts.values() for cs in per.values() for c in cs if c}
    named = unstable_ids.as_recorded(found, env.baseline)
    contexts = {
        rel: {n: {named.get(c, c) for c in cs} for n, cs in per.items()} for rel, per in contexts.items()
    }
    data["statuses"] = {named[t]: s for t, s in data["statuses"].items()}
    data["durations"] = {named.get(t, t): d for t, d in data["durations"].items()}
    tests = sorted(set(named.values()))
    index = {t: i for i, t in enumerate(tests)}
    lines: dict[str, dict[int, list[int]]] = {}
    import_lines: dict[str, list[int]] = {}
    for rel, per in sorted(contexts.items()):
        for n, cs in sorted(per.items()):
            if "" in cs:
                import_lines.setdefault(rel, []).append(n)
            if cs - {""}:
                lines.setdefault(rel, {})[n] = sorted(index[c] for c in cs if c)
    return CoverageMap(
        env_id=env.id,
        engine=data["engine"],
        tests=tests,
        lines=lines,
        import_lines=import_lines,
        durations={k: round(v, 6) for k, v in data["durations"].items()},
        statuses=data["statuses"],
        cases_per_test=CASES_PER_TEST if sampled else 0,
        lean=lean and sampled,
    )


def coverage_map(
    env: EnvRecord,
    *,
    backend: str = DEFAULT_BACKEND,
    redo: bool = False,
    lean_after_s: float = LEAN_AFTER_S,
) -> CoverageMap:
    """The environment's coverage map, built on first use and cached next to the environment; on the
    lean sample when its baseline took longer than `lean_after_s` (`lean_suite`). A cached map of a
    other sample is kept: validation selects from the sample it ran (`lean`)."""
    path = _cache_path(env)
    if path.is_file() and not redo:
        try:
            cached = load_json(path, CoverageMap)
            if (
                cached.env_id == env.id
                and cached.schema_version == CoverageMap.model_fields["schema_version"].default
                and cached.cases_per_test in (0, CASES_PER_TEST)  # 0: the whole suite, a superset
            ):
                return cached
        except ValueError:
            pass
    with env_sandbox(env, backend) as sb:
        cmap = build_coverage_map(env, sb, lean=lean_suite(env, lean_after_s))
    atomic_write_json(path, cmap)
    return cmap
