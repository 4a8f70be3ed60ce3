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

A batch that raises an error of codekiln's own (not infrastructure: `infrastructure`) is validated
again one candidate at a time, inside the unit, so on every executor: the candidate that still raises
is rejected as `validation_error` with the error in its detail, and the others are decided as usual.
One candidate codekiln cannot validate never stops the run; a broken sandbox or machine still does.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from codekiln.core.errors import CodekilnError, ConfigError
from codekiln.core.executor import borrowed, release
from codekiln.core.protocols import Limits, Model, Resources
from codekiln.envs import EnvRecord
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.records import RejectedCandidate, RejectReason
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
            try:
                return validator.validate(batch)
            except Exception as err:
                if infrastructure(err):
                    raise
                if len(batch) == 1:
                    return [unvalidatable(validator, batch[0], err)]
            return [self._alone(validator, cand) for cand in batch]

    @staticmethod
    def _alone(validator: Validator, cand: Candidate) -> Decision:
        """`cand` validated in a batch of its own: after its batch raised, the candidates that did not
        cause it are decided as they would have been, and the one that did is rejected."""
        try:
            return validator.validate([cand])[0]
        except Exception as err:
            if infrastructure(err):
                raise
            return unvalidatable(validator, cand, err)

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


def infrastructure(err: Exception) -> bool:
    """Whether `err` stops the run rather than rejecting a candidate: the machinery failed (a sandbox,
    the test runner, the operating system: `CodekilnError.infra`, OSError, MemoryError), or the run
    is set up wrong for every candidate (ConfigError). Such an error recorded as a candidate's
    rejection would never be retried, since resuming skips decided candidates."""
    if isinstance(err, CodekilnError):
        return err.infra or isinstance(err, ConfigError)
    return isinstance(err, OSError | MemoryError)


def unvalidatable(validator: Validator, cand: Candidate, err: Exception) -> RejectedCandidate:
    """The rejection of a candidate whose validation raised `err` (a bug of codekiln's, seen on this
    candidate only): `validation_error`, naming the error, where it came from and how to retry."""
    ours = [f for f in traceback.extract_tb(err.__traceback__) if f"{os.sep}codekiln{os.sep}" in f.filename]
    place = f" in {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
    return validator.reject(
        cand,
        RejectReason.validation_error,
        f"validating it raised {type(err).__name__}{place}: {err} (a bug of codekiln's: report it; "
        "once fixed, rerun with --redo to validate it again)",
    )


@dataclass
class PlanUnits:
    """The unit of several repositories' runs: item (repository index, batch index, batch) -> the
    batch's decisions, validated by that repository's `ValidateBatch`."""

    units: list[ValidateBatch]

    def __call__(self, item: tuple[int, int, list[Candidate]]) -> list[Decision]:
        return self.units[item[0]](item[2])
