"""Replay an exported mini-swe-agent trajectory through the real mini-swe-agent 2.4.6 on the same task, so
the test can compare the file codekiln wrote with the file mini writes.

mini's own `DefaultAgent` runs with its `DeterministicToolcallModel` (the tool-calling variant of its
`DeterministicModel`), whose outputs are the exported assistant turns (tool calls and `extra.actions`
as exported). Its commands run in a fresh codekiln sandbox of the task's starting state
(`SandboxEnvironment`, which implements mini's Environment protocol), and the model's observation
template is set to codekiln's rendering of a command's result (`exit code N` + output), so an exported
bash observation and the one mini writes can be compared as text. The agent's prompt templates are the
exported `info.config.agent` ones. mini saves its trajectory file itself (`output_path`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codekiln.envs import EnvRecord
from codekiln.grading import open_task_sandbox
from codekiln.rollouts.thirdparty import SandboxEnvironment, import_mini
from codekiln.tasks.records import TaskRecord

CODEKILN_OBSERVATION = "exit code {{output.returncode}}{% if output.output %}\n{{output.output}}{% endif %}"


def replay(doc: dict[str, Any], task: TaskRecord, env: EnvRecord, out: Path) -> dict[str, Any]:
    """Run mini on `task` with the exported turns of `doc`; returns the trajectory file mini saved."""
    import_mini()
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.models.test_models import DeterministicToolcallModel

    messages = doc["messages"]
    assert messages[0]["role"] == "system" and messages[1]["role"] == "user"
    outputs = [m for m in messages if m["role"] == "assistant"]
    model = DeterministicToolcallModel(outputs=outputs, observation_template=CODEKILN_OBSERVATION)
    prompts = doc["info"]["config"]["agent"]  # the exported templates must render the same prompts
    with open_task_sandbox(task, env) as sandbox:
        agent = DefaultAgent(
            model, SandboxEnvironment(sandbox, cwd="/testbed", timeout=120),
            system_template=prompts["system_template"], instance_template=prompts["instance_template"],
            cost_limit=0, output_path=out,
        )  # fmt: skip
        agent.run("")
    return json.loads(out.read_text())  # type: ignore[no-any-return]
