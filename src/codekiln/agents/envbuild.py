"""An environment-building agent for when the rules run out: it installs and runs the suite in a sandbox
with network, then writes the repository's profile, which is kept only if a fresh build reproduces it.

    result = agent_build_env("pypi:NAME==1.0", model="embedded")    # any spec of `codekiln.models`
    result.accepted, result.reason, result.profile_file, result.env

or `codekiln env build SPEC --agent MODEL` (the agent runs only when the rule-based build fails).

The episode: a venv is created at /opt/venv in a build sandbox (the snapshot at /testbed, network on,
pip's cache shared), and the `Agent` loop plays the `EnvBuildScaffold` (a `bash` tool and a
`write_profile` tool) with the model. `write_profile` ends the episode with the declarative profile
`envs.profiles` loads (deps, extras, env vars) and the pytest command the agent ran. The judge:
- the test command must be one plain pytest invocation (`pytest ...`, `python -m pytest ...`, optional
  `VAR=value` words first), with no other command chained, piped or substituted: codekiln runs every
  suite with pytest, so anything else (`echo ok`, a grep of a log) is rejected with its reason;
- a fresh build from the profile (`envs.build_env(..., redo=True)`, no state from the episode) must
  record a baseline with at least one passing test: a command that collects nothing is rejected.
An accepted profile is written where `load_profile` finds it ($CODEKILN_HOME/profiles/NAME.yaml; an
existing file there is kept as NAME.yaml.bak), so later builds use it. Each attempt's verdict and
trajectory are saved in $CODEKILN_HOME/envs/agent/ (the trajectory after every step).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from codekiln.agents.loop import Agent, AgentLimits
from codekiln.agents.records import Observation, Step, Trajectory
from codekiln.agents.scaffolds import Scaffold
from codekiln.agents.tools import BashTool, Submitted, Tool
from codekiln.core.config import home, state_dir
from codekiln.core.errors import CodekilnError, EnvBuildError
from codekiln.core.protocols import Model, Sandbox
from codekiln.core.records import Record, atomic_write_json
from codekiln.envs import EnvRecord, Profile, build_env, make_recipe
from codekiln.envs.deps import dist_name
from codekiln.envs.pytestargs import parse_pytest_args
from codekiln.envs.steps import Builder, build_spec
from codekiln.models import make_model
from codekiln.repos import SnapshotRecord, ensure_snapshot
from codekiln.sandbox import DEFAULT_BACKEND, open_sandbox

PROFILE_KEYS = ("extra_deps", "skip_deps", "extras", "test_env", "install_env", "python")


class WriteProfileTool(Tool):
    """Ends the episode with the profile the agent found; the judge decides whether it is kept."""

    name = "write_profile"
    description = (
        "Finish by writing the repository's environment profile: the pytest command that ran the test "
        "suite (exactly as you ran it) and what had to be installed or set for it. Call it once the "
        "suite runs; you cannot continue afterwards."
    )
    parameters = {
        "type": "object",
        "properties": {
            "test_command": {"type": "string", "description": "e.g. python -m pytest tests"},
            "extra_deps": {"type": "array", "description": "requirements to install besides the project"},
            "skip_deps": {"type": "array", "description": "project names never to install"},
            "extras": {"type": "array", "description": "extras of the project itself to install"},
            "test_env": {"type": "object", "description": "environment variables the tests need"},
            "install_env": {"type": "object", "description": "environment variables the install needs"},
            "python": {"type": "string", "description": "interpreter, e.g. python3.12 (if not the default)"},
        },
        "required": ["test_command"],
        "additionalProperties": False,
    }

    def call(self, sandbox: Sandbox, args: dict[str, Any], *, timeout: float | None) -> Observation:
        raise Submitted(json.dumps(args))


class EnvBuildScaffold(Scaffold):
    """`bash` (network on, the venv at /opt/venv) and `write_profile`; any number of calls a turn."""

    name = "envbuild"
    rule = "call bash, or write_profile when the test suite runs"
    system_template = (
        "You set up Python repositories so that their test suite runs. The repository is at /testbed (your "
        "working directory) and a virtualenv is at /opt/venv: use /opt/venv/bin/python and "
        "`/opt/venv/bin/python -m pip install ...` (the network is on). Install the project "
        "(`pip install -e /testbed`) and what its tests need, find its test directory and run the suite "
        "with `/opt/venv/bin/python -m pytest PATHS`. Each bash call is a new shell at /testbed. When "
        "the suite runs, call write_profile with that exact pytest command and the extra requirements "
        "(extra_deps), extras and environment variables it needed. Only a command that really runs the "
        "tests is accepted; it is checked by building a fresh environment from your profile."
    )

    def make_tools(self) -> list[Tool]:
        return [BashTool(self.max_output_chars), WriteProfileTool()]

    def instance_prompt(self, task: str) -> str:
        return task


class ProfileRejected(CodekilnError):
    """The agent's profile was not kept; the message says why."""


_SHELL = re.compile(r"[|;&<>`]|\$\(")
_PYTHON = re.compile(r"(.*/)?python[0-9.]*$")


def pytest_command_args(command: str) -> list[str]:
    """The words after pytest in one plain pytest invocation (see the module docstring), or a
    ProfileRejected saying why `command` is not one."""
    if _SHELL.search(command):
        raise ProfileRejected(
            f"the test command {command!r} chains, pipes, redirects or substitutes commands: "
            "it must be a single pytest invocation"
        )
    try:
        words = shlex.split(command)
    except ValueError as err:
        raise ProfileRejected(f"the test command {command!r} cannot be read as shell words: {err}") from err
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words = words[1:]
    if words and os.path.basename(words[0]) in ("pytest", "py.test"):
        return words[1:]
    if len(words) >= 3 and _PYTHON.match(words[0]) and words[1:3] == ["-m", "pytest"]:
        return words[3:]
    raise ProfileRejected(
        f"the test command {command!r} is not a pytest invocation: codekiln runs every suite with "
        "pytest, so the profile needs the pytest command that ran the tests (e.g. python -m pytest tests)"
    )


def profile_from_submission(args: dict[str, Any], root: Path, name: str) -> Profile:
    """The profile the agent submitted (its pytest words read with pytest's option table), or a
    ProfileRejected with the reason."""
    words = pytest_command_args(str(args.get("test_command", "")))
    parsed = parse_pytest_args(words, root)
    data = {k: args[k] for k in PROFILE_KEYS if args.get(k) not in (None, [], {}, "")}
    try:
        return Profile.model_validate({"name": name, **data, "test_args": parsed.args})
    except ValidationError as err:
        raise ProfileRejected(f"the profile does not fit the profile schema: {err}") from err


def check_baseline(env: EnvRecord) -> None:
    """Reject an environment whose baseline shows that the command did not really run the suite."""
    if not env.baseline:
        raise ProfileRejected(f"`pytest {' '.join(env.test.args)}` collected no tests in a fresh build")
    if not env.counts.get("passed"):
        raise ProfileRejected(
            f"no test passed in a fresh build from the profile ({env.summary_line()}): "
            "that is no baseline to grade against"
        )


class AgentBuild(Record):
    """One attempt of the agent: the model, the episode's end, the verdict and where things were put."""

    snapshot_id: str
    spec: str
    model: str
    exit_reason: str | None = None
    turns: int = 0
    accepted: bool = False
    reason: str = ""
    profile: dict[str, Any] = {}
    profile_file: str = ""
    env_id: str = ""
    trajectory: str = ""
    duration_s: float = 0.0


class AgentResult:
    """What `agent_build_env` returns: the record, and the environment when the profile was accepted."""

    def __init__(self, record: AgentBuild, env: EnvRecord | None) -> None:
        self.record, self.env = record, env
        self.accepted, self.reason, self.profile_file = record.accepted, record.reason, record.profile_file


TASK = (
    "Set up the repository {name} {version} at /testbed so that its test suite runs, then call "
    "write_profile. Files at its top level: {files}."
)


def _episode(snap: SnapshotRecord, model: Model, backend: str, limits: AgentLimits, log: Path) -> Trajectory:
    """Play the episode in a build sandbox with a fresh venv (removed afterwards)."""
    recipe = make_recipe(snap, Profile())
    scratch = Path(tempfile.mkdtemp(prefix="agent-build-", dir=state_dir("envs", "agent")))
    try:
        builder = Builder(recipe, scratch)
        with open_sandbox(build_spec(snap, builder.venv, recipe, writable=True), backend) as sb:
            builder.build_venv(sb)
            files = ", ".join(sorted(p.name for p in Path(snap.path).iterdir() if p.name != ".git"))
            task = TASK.format(name=snap.name, version=snap.version or "", files=files)

            def save(traj: Trajectory, step: Step | None) -> None:
                atomic_write_json(log, traj)

            return Agent(EnvBuildScaffold(), limits).run(task, sb, model, on_step=save)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _install(profile: Profile, stem: str) -> Path:
    """Write the accepted profile where `load_profile` finds it; an existing file is kept as .bak."""
    path = home() / "profiles" / f"{stem}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        os.replace(path, path.with_name(f"{stem}.yaml.bak"))
    path.write_text(_yaml(profile))
    return path


def _yaml(profile: Profile) -> str:
    data = profile.model_dump(exclude={"name"}, exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def attempt_base(snapshot_id: str) -> Path:
    """Where one attempt's verdict (`BASE.json`) and trajectory (`BASE.trajectory.json`) go: named by
    the snapshot and the time, to the second for reading, and a random part, because two attempts
    on one snapshot within a second (two processes, or a quick rejection and a retry) would otherwise
    write over each other's files."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return state_dir("envs", "agent") / f"{snapshot_id}-{stamp}-{uuid.uuid4().hex[:8]}"


def agent_build_env(
    spec: str | SnapshotRecord,
    model: str | Model = "embedded",
    *,
    backend: str = DEFAULT_BACKEND,
    limits: AgentLimits | None = None,
) -> AgentResult:
    """Let the agent find the profile of `spec`, judge it by a fresh build, keep it when accepted."""
    start = time.monotonic()
    snap = spec if isinstance(spec, SnapshotRecord) else ensure_snapshot(spec)
    llm = make_model(model) if isinstance(model, str) else model
    stem = dist_name(snap.name) or "project"
    base = attempt_base(snap.id)
    record = AgentBuild(
        snapshot_id=snap.id, spec=snap.source, model=str(getattr(llm, "name", model)),
        trajectory=f"{base}.trajectory.json",
    )  # fmt: skip
    env = None
    limits = limits or AgentLimits(max_turns=30, command_timeout_s=600, wall_time_s=3600)
    try:
        traj = _episode(snap, llm, backend, limits, Path(record.trajectory))
        record.exit_reason, record.turns = traj.exit_reason, traj.totals.turns
        if traj.exit_reason != "submitted":
            raise ProfileRejected(
                f"the agent ended without writing a profile ({traj.exit_reason}: {traj.exit_message})"
            )
        args = json.loads(traj.exit_message)
        record.profile = args
        profile = profile_from_submission(args, Path(snap.path), stem)
        with tempfile.TemporaryDirectory(prefix="agent-profile-") as tmp:
            candidate = Path(tmp) / f"{stem}.yaml"
            candidate.write_text(_yaml(profile))
            try:
                env = build_env(snap, redo=True, backend=backend, profile=candidate)
            except EnvBuildError as err:
                raise ProfileRejected(f"a fresh build from the profile failed: {err.message}") from err
        check_baseline(env)
        record.accepted, record.env_id = True, env.id
        record.reason = f"a fresh build reproduced a baseline: {env.summary_line()}"
        record.profile_file = str(_install(profile, stem))
    except ProfileRejected as err:
        record.reason, env = err.message, None
    finally:
        record.duration_s = time.monotonic() - start
        atomic_write_json(f"{base}.json", record)
    return AgentResult(record, env)
