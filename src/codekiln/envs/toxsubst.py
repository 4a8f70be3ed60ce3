"""tox.ini's substitutions, as far as reading a test command needs them: `{[section]key}` references
and `{env:NAME}` / `{env:NAME:default}` lookups, which tox answers from the environment's own `setenv`
first. hyperlink 21.0.0 runs `pytest ... --doctest-modules {posargs:src/{env:PY_MODULE}}` with
`PY_MODULE=hyperlink` set through `setenv = {[default]setenv}`: unread, the path was left out and
pytest collected the whole tree with --doctest-modules (docs/conf.py among it, so sphinx and its theme
were installed to import it)."""

from __future__ import annotations

import configparser
import re

_REF = re.compile(r"\{\[([^\]{}]+)\]([^{}]+)\}")
_ENV = re.compile(r"\{env:([^:{}]+)(?::([^{}]*))?\}")
_NAME = re.compile(r"[A-Za-z_]\w*")
MAX_DEPTH = 5
"""References inside references are followed this many levels deep (a cycle stops there)."""


def references(tox: configparser.ConfigParser, text: str) -> str:
    """`text` with each `{[section]key}` replaced by that setting's value; one naming no setting is kept."""

    def value(match: re.Match[str]) -> str:
        section, key = match[1].strip(), match[2].strip()
        return tox[section].get(key, match[0]) if tox.has_section(section) else match[0]

    for _ in range(MAX_DEPTH):
        text, n = _REF.subn(value, text)
        if not n:
            break
    return text


def setenv(tox: configparser.ConfigParser, section: str = "testenv") -> dict[str, str]:
    """The section's `setenv` as {NAME: value}; a line under a factor condition (`py27: X=1`) is left out."""
    if not tox.has_section(section):
        return {}
    out = {}
    for line in references(tox, tox[section].get("setenv", "")).splitlines():
        key, sep, value = line.partition("=")
        if sep and _NAME.fullmatch(key.strip()):
            out[key.strip()] = value.strip()
    return out


def substitute(line: str, env: dict[str, str]) -> str:
    """`line` with `{env:NAME}` answered from `env`, else by the lookup's default; one with neither is kept
    (the host's environment is not the sandbox's)."""

    def value(match: re.Match[str]) -> str:
        if match[1] in env:
            return env[match[1]]
        return match[2] if match[2] is not None else match[0]

    return _ENV.sub(value, line)
