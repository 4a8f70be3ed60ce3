"""Infrastructure checks of a rollout run: probe the model before the first episode, and stop a run
whose every episode so far failed for one infrastructure cause (a server that is down masks every
episode; running the rest would only record more of the same). The stopped episodes are not written,
so rerunning after the fix redoes them. A run shorter than STREAK whose episodes all failed for one
cause is written as usual and flagged (`RolloutStats.infra_cause`; the CLI exits non-zero).

    probe_model(policy_model, spec)            # ModelError with the URL and how to start a server
    infra_stop_cause(rollouts)                 # the shared mask reason once STREAK episodes share it

The decision is a pure function of the rollouts finished in this run, so it is unit-tested on its own.
"""

from __future__ import annotations

from codekiln.core.errors import CodekilnError, ModelError
from codekiln.core.protocols import Model
from codekiln.rollouts.records import Rollout

STREAK = 3  # episodes that all failed for the same infrastructure cause stop the run


class InfraStop(CodekilnError):
    """Every episode of a run so far was masked for the same infrastructure cause; the run stopped."""

    infra = True


def stop_error(count: int, cause: str) -> InfraStop:
    """The error that stops a run after `count` episodes all masked for `cause`."""
    return InfraStop(
        f"stopped: all {count} episodes of this run so far failed for the same infrastructure reason "
        f"(none was scored or written): {cause}",
        hint="fix the cause (start the model server, check the sandbox backend) and rerun the same command",
        cause=cause,
    )


def probe_model(model: Model, spec: str) -> None:
    """Call the model's `probe()` if it has one (served models do); reword its failure for a rollout."""
    probe = getattr(model, "probe", None)
    if probe is None:
        return
    try:
        probe()
    except ModelError as err:
        raise ModelError(
            f"model {spec!r} failed its check before the first episode: {err.message}", hint=err.hint
        ) from err


def infra_stop_cause(finished: list[Rollout], *, ended: bool = False) -> str | None:
    """The shared cause when every rollout finished in this run is masked with one and the same reason
    and there are at least STREAK of them (any number once the run has `ended`). Else None."""
    if not finished or any(not r.reward.masked for r in finished):
        return None
    causes = {r.reward.mask_reason for r in finished}
    if len(causes) != 1 or (len(finished) < STREAK and not ended):
        return None
    return causes.pop()
