"""How candidates are validated: the validation engine's settings (`codekiln synth --engine, --gate, --audit, ...`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ValidateConfig(BaseModel):
    """How candidates are validated."""

    engine: Literal["warm", "fresh"] = Field(
        default="warm",
        description="warm: forked runs from one pytest session; fresh: a pytest process per run",
    )
    gate: Literal["fast", "grader"] = Field(
        default="grader",
        description="grader: gold and empty patches confirmed by the grader agents face, per batch with "
        "an audit (`gate.GraderGate`; the default); fast: the in-memory check, for throughput runs",
    )
    audit: float = Field(
        default=0.02,
        gt=0.0,
        le=1.0,
        description="grader gate: the share of the tasks whose gold and empty patches are graded for "
        "real to audit the shortcut (counted over the run, one of the first batch always; 1: every task)",
    )
    reruns: int = Field(
        default=3, ge=1, description="runs per side; every selected test must agree across them"
    )
    timeout_factor: float = Field(
        default=10.0, description="a run may take this many times the selected tests' coverage-run time"
    )
    timeout_min_s: float | None = Field(
        default=None, description="lower bound of a run's timeout (default 5 s warm, 20 s fresh)"
    )
    timeout_max_s: float = Field(default=120.0, description="upper bound of a run's timeout")
    visible_tests: bool = Field(
        default=False,
        description="SWE-bench style: the failing tests' files stay in the agent's workspace and the "
        "statement names the tests; by default they are hidden and the statement never names them",
    )
    statements: Literal["template", "model"] = Field(
        default="template",
        description="who writes problem statements: the template, or a model (leak-checked, the template "
        "when every answer leaks); each task records which in `statement_source`",
    )

    def timeout(self, base_s: float) -> float:
        """A run's limit for tests that took `base_s` in the coverage run. It fires on a hang, and on a
        machine `timeout_factor` times slower than the one that mapped coverage: there a bug that is a
        task elsewhere is rejected as `timeout` (see `synth`'s "Any machine")."""
        low = (
            self.timeout_min_s if self.timeout_min_s is not None else (5.0 if self.engine == "warm" else 20.0)
        )
        return min(self.timeout_max_s, max(low, self.timeout_factor * base_s))
