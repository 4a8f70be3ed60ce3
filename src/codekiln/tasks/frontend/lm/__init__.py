"""Model-written bugs (`lm_modify`, `lm_rewrite`): a model is shown one function and either asked to
plant a subtle bug in it or to rewrite its body from the signature, docstring and context; what it
writes is checked cheaply (`judge`) and becomes a `Candidate` for the same validation engine as the
procedural mutators. `codekiln.tasks.lm_bugs` runs it inside `codekiln synth`.

    requests = plan_requests(entities, STRATEGIES, seed=0, max_functions=10)
    run_requests(model, requests, snapshot_dir, concurrency=4, on_call=calls.append)
    judged = judge("lm_modify", entity, file_text, call.raw)      # a Candidate or a named reason
"""

from __future__ import annotations

from codekiln.tasks.frontend.lm.calls import LmCall, LmRequest, eligible, plan_requests, run_requests
from codekiln.tasks.frontend.lm.judge import UNPARSED, Judged, LmReject, dedupe, judge
from codekiln.tasks.frontend.lm.prompts import STRATEGIES, Prompt, load_prompt, prompt_versions

__all__ = [
    "STRATEGIES",
    "UNPARSED",
    "Judged",
    "LmCall",
    "LmReject",
    "LmRequest",
    "Prompt",
    "dedupe",
    "eligible",
    "judge",
    "load_prompt",
    "plan_requests",
    "prompt_versions",
    "run_requests",
]
