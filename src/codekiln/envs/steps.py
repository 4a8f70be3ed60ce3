"""The steps of one environment build, each run in a sandbox and logged to `logs/<step>.log`.

    builder = Builder(recipe, scratch_dir)
    with open_sandbox(build_spec(snap, builder.venv, recipe, writable=True)) as sb:
        builder.build_venv(sb); builder.install(sb); packages = builder.freeze(sb)
    with open_sandbox(build_spec(snap, builder.venv, recipe, writable=False)) as sb:
        run = builder.baseline(sb)

The build sandbox has network access, a writable venv at /opt/venv and pip's shared cache at
/pip-cache; the baseline sandbox is like every later one (read-only venv, no network). A failing step
raises `EnvBuildError` with the step's name and log tail. Orchestration and caching are in `build`.

Modules that cannot be collected on the clean snapshot (a file the sdist lacks, a package declared
nowhere) are left out rather than failing the build: pytest runs no test at all when one module fails
to collect, so the baseline runs again without them (`--ignore`), `Builder.left_out` names them with
their reason and `Builder.test` is the test command every later run of the environment uses. The list
is fixed at build time: a module that collected then and fails after a patch stops the run as before.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.core.errors import EnvBuildError
from codekiln.core.proc import tail
from codekiln.core.protocols import ExecResult, Limits, Sandbox
from codekiln.envs.cutoff import PIP_MOUNT, host_pip
from codekiln.envs.deps import dist_name
from codekiln.envs.extensions import keep_extensions
from codekiln.envs.importcause import collection_cause, missing_module
from codekiln.envs.plugins import args_plugins
from codekiln.envs.recipe import Recipe, host_interpreter
from codekiln.envs.venvtemplate import seed_venv, templates_dir
from codekiln.envs.wheelhouse import fill_wheelhouse, sandbox_env
from codekiln.grading import TestCommand, TestRun, internal_error, run_tests
from codekiln.repos import SnapshotRecord
from codekiln.sandbox import Bind, SandboxSpec
from codekiln.sandbox.base import VENV_DIR, WORKDIR

PIP_CACHE = "/pip-cache"
# Prints the requirements of the project installed from /testbed (argv: extras, names to skip), each as
# one word: the skip_deps route installs them itself after `pip install --no-deps -e /testbed`.
REQUIRES_SCRIPT = """
import importlib.metadata as md, re, sys
from pip._vendor.packaging.requirements import Requirement
extras, skip = [e for e in sys.argv[1].split(",") if e], set(sys.argv[2].split(","))
for dist in md.distributions():
    if "file:///testbed" not in (dist.read_text("direct_url.json") or ""):
        continue
    for line in dist.requires or []:
        req = Requirement(line)
        if re.sub(r"[-_.]+", "-", req.name).lower() in skip:
            continue
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ["", *extras]):
            print(str(req).split(";")[0].replace(" ", ""))
"""


def _python_binds(prefix: str) -> list[Bind]:
    """The interpreter's installation, when it is not codekiln's own: the backends show that one and,
    once the venv exists, the one its pyvenv.cfg names, but not while the venv is being created."""
    return [] if prefix == host_interpreter().prefix else [Bind(Path(prefix), prefix)]


class Builder:
    """One build attempt in a scratch directory; every step logs to logs/<step>.log."""

    def __init__(self, recipe: Recipe, scratch: Path) -> None:
        self.recipe = recipe
        self.venv = scratch / "venv"
        self.logs = scratch / "logs"
        self.venv.mkdir()
        self.logs.mkdir()
        self.skipped: dict[str, str] = {}
        self.kept: list[str] = []
        self.test: TestCommand = recipe.test
        """The environment's test command: the recipe's, with the left-out modules ignored."""
        self.left_out: dict[str, str] = {}
        """Paths that failed to collect on the clean snapshot -> why; `test` ignores them."""
        self.wheelhouse: list[str] = []
        self.wheelhouse_problem = ""

    def log(self, step: str, res: ExecResult, argv: list[str]) -> str:
        text = f"$ {' '.join(argv)}\n{res.stdout}{res.stderr}\n[exit {res.exit_code}{', timed out' if res.timed_out else ''}]\n"
        with (self.logs / f"{step}.log").open("a") as fh:
            fh.write(text)
        return text

    def fail(self, step: str, message: str, log: str, hint: str, line: str = "") -> EnvBuildError:
        """The error for a failed step; `line` is the profile line that would fix it, when known."""
        return EnvBuildError(
            f"environment build failed at step '{step}': {message}\n--- log tail ---\n{tail(log, 25)}",
            hint=hint,
            step=step,
            log_tail=tail(log, 25),
            profile_line=line,
        )

    def sh(
        self, sb: Sandbox, step: str, argv: list[str], timeout: float, env: dict[str, str] | None = None
    ) -> tuple[bool, str]:
        res = sb.exec(argv, timeout=timeout, env=env or {}, cwd=WORKDIR)
        return res.ok, self.log(step, res, argv)

    def build_venv(self, sb: Sandbox) -> None:
        """`python -m venv /opt/venv`, or a copy of what it made for the interpreter before (see
        `venvtemplate`)."""
        python = self.recipe.python.executable
        make = lambda: self.sh(sb, "venv", [python, "-m", "venv", VENV_DIR], 600)  # noqa: E731
        try:
            ok, log, note = seed_venv(python, self.venv, make)
        except OSError as err:
            raise self.fail(
                "venv",
                f"could not copy the interpreter's venv template: {err}",
                str(err),
                f"check the disk and the permissions under {templates_dir()}; removing the template "
                "there makes the next build create it again",
            ) from err
        with (self.logs / "venv.log").open("a") as fh:
            fh.write(note)
        if not ok:
            raise self.fail(
                "venv",
                "could not create the virtualenv",
                log,
                "check that the interpreter has the venv module (Debian: apt-get install python3-venv), "
                "or build with another one",
                "python: python3.X",
            )

    def pip(self, sb: Sandbox, args: list[str], env: dict[str, str] | None = None) -> tuple[bool, str]:
        """`pip install` into the venv; with a cutoff, codekiln's own pip does it (see `cutoff`)."""
        pip = ["-m", "pip"]
        if self.recipe.cutoff:
            pip = [host_pip().runner()]
            args = ["--uploaded-prior-to", self.recipe.cutoff, *args]
        argv = [f"{VENV_DIR}/bin/python", *pip, "install", "--no-input", *args]
        return self.sh(sb, "install", argv, 1800, env)

    def install(self, sb: Sandbox) -> None:
        self.install_packages(sb)
        self.kept, log = keep_extensions(sb, self.recipe.python.version)
        with (self.logs / "install.log").open("a") as fh:
            fh.write(log)

    def wheels(self, sb: Sandbox, project: str = "") -> None:
        """Fill the venv's wheelhouse, for tests that install or build the project offline (see
        `wheelhouse`); a problem there is recorded, never a failed build."""
        self.wheelhouse, log, self.wheelhouse_problem = fill_wheelhouse(sb, project, self.recipe.skip)
        with (self.logs / "wheelhouse.log").open("a") as fh:
            fh.write(log)

    def project(self, sb: Sandbox, extras: list[str]) -> list[str]:
        """pip arguments that install the project: `-e /testbed[extras]`, or, when the profile skips
        deps, the project without deps (`--no-deps`) and then its declared requirements but those."""
        target = f"{WORKDIR}[{','.join(extras)}]" if extras else WORKDIR
        if not self.recipe.skip:
            return ["-e", target]
        ok, log = self.pip(sb, ["--no-deps", "-e", target], dict(self.recipe.install_env))
        if not ok:
            raise self.fail(
                "install", "pip could not install the project (without its deps)", log, "see the log"
            )
        argv = [f"{VENV_DIR}/bin/python", "-c", REQUIRES_SCRIPT, ",".join(extras), ",".join(self.recipe.skip)]
        res = sb.exec(argv, timeout=120, cwd=WORKDIR)
        self.log("install", res, argv)
        return res.stdout.split()  # requirement lines without spaces (see REQUIRES_SCRIPT)

    def install_packages(self, sb: Sandbox) -> None:
        r = self.recipe
        env = dict(r.install_env)
        ok, log = self.pip(sb, [*self.project(sb, r.extras), *r.required, *r.deps], env)
        if ok:
            return
        missing = {dist_name(m) for m in re.findall(r"No matching distribution found for (\S+)", log)}
        if missing & {dist_name(d) for d in r.required}:
            hint = "fix or remove it in the profile's extra_deps (required deps must install)"
            when = f" before the cutoff {r.cutoff}" if r.cutoff else ""
            raise self.fail(
                "install",
                f"a required test dependency does not exist{when}: {', '.join(sorted(missing))}",
                log,
                hint,
            )
        # One resolve failed: install the project, the required deps, then each optional dep alone.
        ok, log = self.pip(sb, [*self.project(sb, r.extras), *r.required], env)
        if not ok and r.extras:
            self.skipped[f"[{','.join(r.extras)}]"] = "the project's extras failed to install"
            ok, log = self.pip(sb, [*self.project(sb, []), *r.required], env)
        if not ok:
            raise self._install_failure(log)
        for dep in r.deps:
            ok, dep_log = self.pip(sb, [dep])
            if not ok:
                self.skipped[dep] = tail(dep_log, 3).splitlines()[0] if dep_log.strip() else "install failed"

    def _install_failure(self, log: str) -> EnvBuildError:
        message = "pip could not install the project and its required test deps"
        missing = sorted({dist_name(m) for m in re.findall(r"No matching distribution found for (\S+)", log)})
        if "requires a different Python" in log:
            hint = "the project does not support this Python: build with one it supports"
            return self.fail("install", message, log, hint, "python: python3.X")
        if missing and self.recipe.cutoff:
            hint = (
                f"no release of {', '.join(missing)} that satisfies the requirement was uploaded before the "
                f"cutoff {self.recipe.cutoff}: the state requires something newer than its date"
            )
            return self.fail(
                "install", f"{message}: {', '.join(missing)} not found before the cutoff", log, hint
            )
        if missing:
            hint = (
                f"{', '.join(missing)} cannot be found on the package index, and the project requires it: "
                "if the tests can run without it, skip it"
            )
            return self.fail(
                "install",
                f"{message}: {', '.join(missing)} not found",
                log,
                hint,
                f"skip_deps: [{', '.join(missing)}]",
            )
        hint = "see the log; a profile can pin deps (extra_deps), drop them (skip_deps) or pick another `python:`"
        return self.fail("install", message, log, hint)

    def freeze(self, sb: Sandbox) -> list[str]:
        """`pip freeze --all`, editable installs written as `name==version (editable PATH)`."""
        argv = [f"{VENV_DIR}/bin/python", "-m", "pip", "freeze", "--all"]
        res = sb.exec(argv, timeout=300, cwd=WORKDIR)
        self.log("install", res, argv)
        out, pending = [], ""
        for line in res.stdout.splitlines():
            if line.startswith("#"):
                found = re.search(r"\((\S+==\S+)\)", line)
                pending = found[1] if found else ""
            elif line.startswith("-e "):
                out.append(f"{pending} (editable {line[3:].strip()})".strip())
                pending = ""
            elif line.strip():
                out.append(line.strip())
        return out

    def baseline(self, sb: Sandbox) -> TestRun:
        """One full run of the suite, past modules that fail to collect: pytest stops before running
        anything when one does, so the run is repeated without them (see the module doc). Refused (a
        failed build, with the fix where the log names it) when it errs, or when no test ran at all:
        an environment whose baseline is empty has nothing to grade with."""
        first = run = self._run(sb)
        for _ in range(MAX_LEAVE_OUT_PASSES):
            broken = left_out(run) if stopped_at_collection(run) else {}
            if not broken or broken.keys() <= self.left_out.keys():
                break
            self.left_out |= broken
            ignores = [f"--ignore={path}" for path in sorted(self.left_out)]
            self.test = self.recipe.test.model_copy(update={"args": [*self.recipe.test.args, *ignores]})
            run = self._run(sb)
        # Nothing ran: stopped at collection, or every module was left out (pytest's exit code 5).
        if not run.statuses and (not run.error or (self.left_out and run.exit_code == 5)):
            errors = ", ".join(sorted(first.collection_errors)[:3])
            first.error = (
                f"no test ran: {len(first.collection_errors)} module(s) failed to collect ({errors})"
            )
            raise self._baseline_failure(first)
        if run.error:
            raise self._baseline_failure(run)
        run.collection_errors = {**self.left_out, **run.collection_errors}
        return run

    def _run(self, sb: Sandbox) -> TestRun:
        run = run_tests(sb, self.test)
        with (self.logs / "baseline.log").open("a") as fh:
            fh.write(f"$ pytest {' '.join(self.test.args)}\n{run.log_tail}\n[exit {run.exit_code}]\n")
        return run

    def _baseline_failure(self, run: TestRun) -> EnvBuildError:
        log = run.log_tail_full or run.log_tail
        if run.timed_out:
            limit = self.test.timeout_s
            hint = (
                f"the suite ran past its {limit:.0f} s limit for one full run (a big suite, or a loaded "
                "machine): raise the limit in the profile (it applies to the baseline and to every "
                "later run of the environment)"
            )
            return self.fail("baseline", run.error or "", run.log_tail, hint, f"timeout_s: {2 * limit:.0f}")
        module = re.search(r"No module named '([\w.]+)'", log)
        filtered = re.search(r"Failed to import filter module '([\w.]+)'", log)
        if filtered:
            dep = filtered[1].split(".")[0]
            hint = (
                f"a filterwarnings entry of the pytest config names a warning of {dep}, which is not "
                f"installed, and pytest stops at configuration: add it to the test deps"
            )
            return self.fail("baseline", run.error or "", run.log_tail, hint, f"extra_deps: [{dep}]")
        if module:
            cause = missing_module(module[1])
            hint = f"the tests import {module[1]}: {cause.why}: {cause.fix}"
            return self.fail("baseline", run.error or "", run.log_tail, hint, cause.line)
        unknown = re.search(r"unrecognized arguments: (.*)", log)
        plugins = sorted({d for d, _ in args_plugins(unknown[1].split(), "")}) if unknown else []
        if plugins:
            hint = (
                f"the pytest config passes options of {', '.join(plugins)}, which is not installed: "
                "add it to the test deps"
            )
            return self.fail(
                "baseline", run.error or "", run.log_tail, hint, f"extra_deps: [{', '.join(plugins)}]"
            )
        if run.collection_errors and not run.statuses:  # every module, since the rest are left out
            broken = sorted(run.collection_errors)
            first = run.collection_errors[broken[0]].strip().splitlines()
            hint = (
                f"every test module fails at import ({broken[0]}: {first[-1] if first else '?'}), so no "
                "test is left to run: the tests need something the environment lacks (a test dependency, "
                "a file the source leaves out) or the test command points at the wrong files"
            )
            return self.fail("baseline", run.error or "", run.log_tail, hint, "test_args: [tests]")
        if "INTERNALERROR>" in log:
            crash = internal_error(log)
            hint = (
                f"{crash}: pytest crashed itself, in a plugin's hook or while rendering a "
                "failure, not at the test command; the INTERNALERROR traceback in the log names the "
                "plugin or test: leave that test out (test_args: [--deselect, ID]) or pin the plugin"
            )
            if re.search(r"\(exit code 3\): [\w.]*Warning: ", crash):
                hint = (
                    f"{crash}: a warning that the pytest config's `filterwarnings = error` makes an error "
                    "stopped pytest (a plugin or conftest warned outside any test): pin that plugin to a "
                    "release that does not warn (extra_deps), or ignore the warning in test_args (-W)"
                )
            return self.fail("baseline", run.error or "", run.log_tail, hint)
        hint = "the test command may be wrong: give pytest's arguments (the test paths) in a profile"
        return self.fail("baseline", run.error or "", run.log_tail, hint, "test_args: [tests]")


MAX_LEAVE_OUT_PASSES = 3
"""Reruns of the baseline without uncollectable modules (pytest reports all of them in one run; a
module can only fail after another is left out when a conftest or package above it changes)."""


def stopped_at_collection(run: TestRun) -> bool:
    """Whether pytest stopped at collection errors before running any test (no infrastructure error)."""
    return run.error is None and bool(run.collection_errors) and not run.statuses


def left_out(run: TestRun) -> dict[str, str]:
    """The paths to leave out of a run stopped at collection -> the last line of each error with its
    cause where known (`importcause`); empty when one of the errors belongs to no path (the session
    itself: nothing can be left out)."""
    out: dict[str, str] = {}
    for node, message in run.collection_errors.items():
        path = node.split("::")[0]
        if not path or path.startswith("<"):
            return {}
        out[path] = collection_cause(message)
    return out


def build_spec(snap: SnapshotRecord, venv: Path, recipe: Recipe, writable: bool) -> SandboxSpec:
    """The sandbox for the install steps (`writable`: venv writable, network, pip cache) or the baseline."""
    binds = _python_binds(recipe.python.prefix)
    env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_PROGRESS_BAR": "off", "PIP_NO_INPUT": "1"}
    if writable:
        binds.append(Bind(pip_cache_dir(), PIP_CACHE, rw=True))
        if recipe.cutoff:
            binds.append(Bind(host_pip().package_dir, f"{PIP_MOUNT}/pip"))
        env["PIP_CACHE_DIR"] = PIP_CACHE
    limits = (
        Limits(timeout_s=1800, memory_mb=None, max_file_mb=None)
        if writable
        else Limits(timeout_s=recipe.test.timeout_s)
    )
    return SandboxSpec(
        snapshot=Path(snap.path),
        venv=venv,
        venv_writable=writable,
        network=writable,
        binds=binds,
        env=env if writable else {**sandbox_env(venv), **recipe.test.env},
        limits=limits,
    )


def pip_cache_dir() -> Path:
    """pip's cache, shared by all builds: $CODEKILN_PIP_CACHE, else $CODEKILN_HOME/pip-cache."""
    path = Path(os.environ.get("CODEKILN_PIP_CACHE") or state_dir("pip-cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path
