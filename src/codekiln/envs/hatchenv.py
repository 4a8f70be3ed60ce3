"""The test dependencies a project's hatch environment installs (`[tool.hatch.envs.NAME]`).

    hatch_test_env(pyproject, BAD_FACTORS)   # ("dev", ["pytest", "beautifulsoup4", "lxml", ...], []) for soupsieve 4.1.1

soupsieve declares no test extra or group: the tests' deps (beautifulsoup4, which the tests and the
package's own matcher import) are the `dependencies` of the hatch env whose scripts run the tests
(`tests = "pytest ... tests"`). The env read is the first whose script is named like a test command (as
`testcmd` reads hatch scripts; env and script names that `skip` matches, docs, lint, typing, left out), with the `default` env's
dependencies that every hatch env inherits; `features` are the project's extras it installs.
"""

from __future__ import annotations

import re
from typing import Any


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def hatch_test_env(pyproject: dict[str, Any], skip: re.Pattern[str]) -> tuple[str, list[str], list[str]]:
    """(env name, requirements, extras) of the hatch env that runs the tests; ("", [], []) if none."""
    envs = pyproject.get("tool", {}).get("hatch", {}).get("envs", {})
    if not isinstance(envs, dict):
        return "", [], []
    for name, env in envs.items():
        scripts = env.get("scripts") if isinstance(env, dict) else None
        if skip.search(name.lower()) or not isinstance(scripts, dict):
            continue
        if any("test" in s.lower() and not skip.search(s.lower()) for s in scripts):
            default = envs.get("default") if name != "default" else None
            reqs = [
                *_strings(env.get("dependencies")),
                *_strings(env.get("extra-dependencies")),
                *(_strings(default.get("dependencies")) if isinstance(default, dict) else []),
            ]
            return name, reqs, _strings(env.get("features"))
    return "", [], []
