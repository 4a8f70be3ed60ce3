"""The baseline of a build, run again while what stopped it can be fixed without a person.

    run, added = baseline_rounds(snap, builder, backend, on_step)

Three causes are fixed, each from what pytest itself printed on the clean snapshot:
- a module the tests import that no file declares (`missing`): installed, then the suite runs again;
  named by a module that fails to collect, a run that stopped, or a test that failed or erred with
  `No module named 'X'` (an import inside the test: googleapis-common-protos 1.76.0's three tests of
  `operations_pb2_grpc` import `grpc`, from its `grpc` extra, and were the only tests that run any of
  its functions);
- a warning raised at start-up, outside any test, by something that is not the project (a plugin's
  `pytest_configure`), that the project's `filterwarnings = error` turns into an INTERNALERROR before
  the session begins (google-api-core: pytest-asyncio's "asyncio_default_fixture_loop_scope is unset"
  under the newest pytest-asyncio): that one warning, by its message and category, is ignored with
  `-W`, added to the environment's test command (shown by `env show`). A warning from the project's own
  files, or one raised while tests run, is the suite's verdict and is left as it is;
- a hook of the project's conftest (or of a plugin) that declares an argument pytest has since removed
  (docopt-ng 0.9.0's `pytest_collect_file(file_path, path, parent)`: pytest 9 dropped the py.path
  arguments `path` and `startdir`, and refuses the conftest before any test runs, "Argument(s) {'path'}
  are declared in the hookimpl but can not be found in the hookspec"): the last pytest that had them is
  installed (`pytest<9`, recorded in `added_deps`), as the project's own run at its release did.
Each round is recorded (`added_deps`, the test command); after `MAX_ROUNDS` the last failure stands.

When the first missing module turns up, the suite evidently runs with test requirements that the
snapshot does not hold (an sdist without the requirements file that installs `-e .[EXTRAS]`: httpx and
httpcore test every optional feature, h2, socksio, brotli); the requirements of every extra the project
declares, less docs, lint and typing ones, are installed then too, each that fails skipped, and
recorded as one `added_deps` entry `[extras]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from codekiln.core.errors import EnvBuildError
from codekiln.core.proc import tail
from codekiln.core.protocols import Sandbox
from codekiln.envs.missing import MAX_ROUNDS, missing_imports, undeclared
from codekiln.envs.steps import REQUIRES_SCRIPT, Builder, build_spec
from codekiln.grading import TestRun
from codekiln.repos import SnapshotRecord
from codekiln.sandbox import open_sandbox
from codekiln.sandbox.base import VENV_DIR, WORKDIR

NOT_FOR_TESTS = re.compile(r"^(docs?|documentation|lint(ing)?|typing|types|mypy|style|format)$", re.I)
"""Extras whose requirements running the tests does not need."""
_EXTRAS = """
import importlib.metadata as md
for dist in md.distributions():
    if "file:///testbed" in (dist.read_text("direct_url.json") or ""):
        print(" ".join(dist.metadata.get_all("Provides-Extra") or []))
"""

_STARTUP_WARNING = re.compile(
    r"internal error \(exit code 3\): ([\w.]*Warning): ([^:\n]*?)\s*"
    r"\(raised in (\S+), line \d+, in (pytest_configure|pytest_sessionstart|pytest_plugin_registered)\)"
)


REMOVED_HOOK_ARGS = {"path": 9, "startdir": 9}
"""Hook arguments pytest removed -> the major release that removed them (py.path's, deprecated in 7.0)."""
_UNKNOWN_HOOK_ARGS = re.compile(
    r"Argument\(s\) \{([^}]*)\} are declared in the hookimpl but can not be found in the hookspec"
)


def failed_messages(run: TestRun | None) -> list[str]:
    """The messages of the tests that failed or erred in a baseline that ran (where a test's own import
    of a missing module shows: googleapis-common-protos imports `grpc` inside its tests)."""
    if run is None:
        return []
    return [run.messages.get(t, "") for t, status in run.statuses.items() if status in ("failed", "error")]


def removed_hook_pin(error: str) -> str | None:
    """The pytest requirement under which the hook that stopped a run is valid again (`pytest<9`), or
    None: the run had no such error, or an argument it names is none pytest ever removed (a typo in the
    project's hook is its suite's verdict)."""
    found = _UNKNOWN_HOOK_ARGS.search(error)
    args = set(re.findall(r"'(\w+)'", found[1])) if found else set()
    if not args or not args <= REMOVED_HOOK_ARGS.keys():
        return None
    return f"pytest<{min(REMOVED_HOOK_ARGS[a] for a in args)}"


def startup_warning_filter(error: str, root: Path) -> str | None:
    """The `-W` filter that ignores the warning a run stopped at before its session began (see the module
    doc), or None: the run had no such error, or the warning came from a file of the project at `root`."""
    found = _STARTUP_WARNING.search(error)
    if found is None or (root / found[3]).exists():
        return None
    category, message = found[1], found[2].strip()
    return f"ignore:{message}:{category}" if message else f"ignore::{category}"


def baseline_rounds(
    snap: SnapshotRecord, builder: Builder, backend: str, on_step: Callable[[str, str], None]
) -> tuple[TestRun, dict[str, str]]:
    """The baseline, run again after each fix (see the module doc): (the run, deps added -> why).
    Raises the last failure when nothing more can be fixed."""
    root = Path(snap.path)
    added: dict[str, str] = {}
    for round_ in range(MAX_ROUNDS + 1):
        failure: EnvBuildError | None = None
        run: TestRun | None = None
        try:
            with open_sandbox(build_spec(snap, builder.venv, builder.recipe, writable=False), backend) as sb:
                run = builder.baseline(sb)
        except EnvBuildError as err:
            failure = err
        texts = [
            *builder.left_out.values(),
            *failed_messages(run),
            str(failure.data.get("log_tail", "")) if failure else "",
        ]
        tried = {*added, *builder.skipped}
        wanted = {d: m for d, m in undeclared(missing_imports(texts), root).items() if d not in tried}
        ignore = startup_warning_filter(failure.message, root) if failure and not wanted else None
        if ignore and f"-W{ignore}" in builder.recipe.test.args:
            ignore = None  # ignored already, and pytest stopped again
        pin = removed_hook_pin("\n".join([failure.message, texts[-1]])) if failure and not wanted else None
        if pin in tried:
            pin = None  # installed already, and pytest stopped again
        if round_ == MAX_ROUNDS or not (wanted or ignore or pin):
            if failure is not None:
                raise failure
            assert run is not None
            return run, added
        if ignore:
            on_step("baseline", f"a plugin's warning at start-up stopped pytest; ignoring it: -W '{ignore}'")
            test = builder.recipe.test
            builder.recipe = builder.recipe.model_copy(
                update={"test": test.model_copy(update={"args": [*test.args, f"-W{ignore}"]})}
            )
        if pin:
            on_step("baseline", f"a hook declares an argument today's pytest removed; installing {pin}")
            why = "a hook of the project (or of a plugin) declares an argument pytest removed in that release"
            _install(snap, builder, backend, {pin: ""}, added, why)
        if wanted:
            on_step("baseline", f"the tests import what no file declares, installing: {', '.join(wanted)}")
            _install(snap, builder, backend, wanted, added)
        builder.left_out, builder.test = {}, builder.recipe.test  # the next baseline starts over
    raise AssertionError("unreachable: the last round returns or raises")


def _install(
    snap: SnapshotRecord,
    builder: Builder,
    backend: str,
    wanted: dict[str, str],
    added: dict[str, str],
    reason: str = "",
) -> None:
    """Install each of `wanted` (distribution -> module) alone, as an optional dep of the environment;
    with a `reason`, a requirement that is no missing module (the extras are left alone then)."""
    recipe = builder.recipe
    with open_sandbox(build_spec(snap, builder.venv, recipe, writable=True), backend) as sb:
        if not reason and not any(
            key.startswith("[") for key in added
        ):  # once, with the first missing module
            _install_extras(sb, builder, added)
        for dist, module in wanted.items():
            ok, log = builder.pip(sb, [dist], dict(recipe.install_env))
            why = reason or (
                f"pytest could not import {module} on the clean snapshot; no file of the project declares it"
            )
            if ok:
                added[dist] = why
            else:
                builder.skipped[dist] = f"{why}; it did not install: {tail(log, 3).splitlines()[0]}"


def _install_extras(sb: Sandbox, builder: Builder, added: dict[str, str]) -> None:
    """The requirements of every extra the installed project declares but docs/lint/typing ones and
    those the recipe installs already (see the module doc); one that fails to install is skipped."""
    res = sb.exec([f"{VENV_DIR}/bin/python", "-c", _EXTRAS], timeout=120, cwd=WORKDIR)
    builder.log("install", res, ["python", "-c", "<the project's extras>"])
    extras = [e for e in res.stdout.split() if not NOT_FOR_TESTS.match(e) and e not in builder.recipe.extras]
    if not res.ok or not extras:
        return
    argv = [f"{VENV_DIR}/bin/python", "-c", REQUIRES_SCRIPT, ",".join(extras), ",".join(builder.recipe.skip)]
    res = sb.exec(argv, timeout=120, cwd=WORKDIR)
    builder.log("install", res, [*argv[:2], "<requirements of the extras>", *argv[3:]])
    reqs = res.stdout.split()
    ok, _ = builder.pip(sb, reqs, dict(builder.recipe.install_env)) if reqs else (True, "")
    failed = [] if ok else [r for r in reqs if not builder.pip(sb, [r], dict(builder.recipe.install_env))[0]]
    for req in failed:
        builder.skipped[req] = "a requirement of the project's extras, installed with the undeclared imports"
    why = (
        "the tests import modules no file of the snapshot declares: its test requirements are missing, "
        "so the requirements of every extra were installed too"
    )
    added[f"[{','.join(extras)}]"] = why + (f" ({len(failed)} did not install)" if failed else "")
