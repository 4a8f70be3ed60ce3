"""Synthesis's unit of work, as any executor runs it (`core.executor`): one batch of candidates
validated in the process the executor picked, on a `Validator` kept there for later batches.

    unit = ValidateBatch(env, cmap, entities, ValidateConfig())
    for outcome in executor.map(unit, batches, resources=unit.resources()):
        ...                                      # outcome.value: the batch's decisions, in its order

A unit only computes; the driver writes its decisions (the stage's resumable logs stay the one source
of truth, so a unit Ray retries after a lost worker is never written twice). Validators (each a
sandbox with a warm pytest session) and the clean-results cache are kept per process and per
environment + validation settings; the driver closes its own with `release(unit.key)`, a Ray worker's
go when the worker exits.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from codekiln.core.errors import ConfigError
from codekiln.core.executor import borrowed, release
from codekiln.core.protocols import Limits, Model, Resources
from codekiln.envs import EnvRecord
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.validation.coverage_map import CoverageMap
from codekiln.tasks.validation.gold import GoldCache
from codekiln.tasks.validation.validate import Decision, ValidateConfig, Validator

_gold_lock = threading.Lock()
_gold: dict[str, GoldCache] = {}


def _gold_cache(key: str) -> GoldCache:
    """This process's clean results for `key`, shared by its validators."""
    with _gold_lock:
        return _gold.setdefault(key, GoldCache())


@dataclass
class ValidateBatch:
    """Validates one batch of candidates of one environment (picklable: sent to Ray workers whole)."""

    env: EnvRecord
    cmap: CoverageMap
    entities: dict[str, Entity]
    validation: ValidateConfig
    backend: str = DEFAULT_BACKEND
    memory_mb: int | None = Limits().memory_mb
    """Each sandboxed process's memory limit, and what the unit reserves on a Ray node."""
    model: Model | None = field(default=None, compare=False)
    """Writes problem statements when `validation.statements == "model"` (the local executor only)."""

    @property
    def key(self) -> str:
        settings = f"{self.env.id}:{self.backend}:{self.memory_mb}:{self.validation.model_dump_json()}"
        return "synth:" + hashlib.sha256(settings.encode()).hexdigest()[:16]

    def resources(self) -> Resources:
        """One CPU (a batch runs its tests one pytest process at a time) and the sandbox's memory limit:
        a test that needs more fails in its sandbox (its candidate's decision), it never takes more
        of the node than the unit reserved."""
        return Resources(cpus=1.0, memory_mb=self.memory_mb)

    def __call__(self, batch: list[Candidate]) -> list[Decision]:
        for path in (self.env.snapshot_path, self.env.venv):
            if not Path(path).is_dir():
                raise ConfigError(
                    f"the environment of {self.env.name} is not at {path} on {socket.gethostname()}",
                    hint="every node must see the driver's CODEKILN_HOME at the same path (a shared mount)",
                )
        with borrowed(self.key, self._validator) as validator:
            return validator.validate(batch)

    def _validator(self) -> Validator:
        return Validator(
            self.env, self.cmap, self.entities, self.validation, backend=self.backend,
            gold_cache=_gold_cache(self.key), memory_mb=self.memory_mb, model=self.model,
        )  # fmt: skip

    def release(self) -> None:
        """Close this process's validators for this unit and forget its clean results (the driver,
        after a run)."""
        release(self.key)
        with _gold_lock:
            _gold.pop(self.key, None)


@dataclass
class PlanUnits:
    """The unit of several repositories' runs: item (repository index, batch index, batch) -> the
    batch's decisions, validated by that repository's `ValidateBatch`."""

    units: list[ValidateBatch]

    def __call__(self, item: tuple[int, int, list[Candidate]]) -> list[Decision]:
        return self.units[item[0]](item[2])
