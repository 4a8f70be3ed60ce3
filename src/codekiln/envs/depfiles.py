"""Lines of the files that list dependencies by hand: requirements files (`-r` includes followed) and
tox settings (factor-conditional lines kept only for test-like factors and the environment's Python).
`envs.deps` reads projects through these."""

from __future__ import annotations

import platform
import re
from pathlib import Path

BAD_FACTORS = re.compile(
    r"doc|lint|style|typ|mypy|pyright|flake|coverage|cov\b|build|release|bench|pypy|pre-?commit|format"
)
_FACTOR_LINE = re.compile(r"^([\w{},.!-]+):\s+(.*)$")

REQUIREMENT_FILES = (
    "requirements/tests.txt", "requirements/test.txt", "requirements/testing.txt", "requirements-test.txt",
    "requirements-tests.txt", "requirements_test.txt", "requirements-testing.txt", "test-requirements.txt",
    "test_requirements.txt", "tests/requirements.txt", "requirements/tests.in", "requirements/test.in",
    "requirements/pytest.txt", "requirements-pytest.txt",
)  # fmt: skip
DEV_REQUIREMENT_FILES = (
    "requirements-dev.txt",
    "requirements_dev.txt",
    "dev-requirements.txt",
    "requirements/dev.txt",
)


def requirement_lines(path: Path, root: Path, depth: int = 0) -> list[str]:
    """Requirement strings of a requirements file; `-r` files followed, options and editables skipped."""
    if depth > 5 or not path.is_file() or not path.resolve().is_relative_to(root.resolve()):
        return []
    out: list[str] = []
    text = path.read_text(errors="replace").replace("\\\n", " ")
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        include = re.match(r"^(-r|--requirement)\s*=?\s*(\S+)", line)
        if include:
            out += requirement_lines(path.parent / include[2], root, depth + 1)
        elif not line.startswith(("-", ".")) and "://" not in line:
            out.append(re.split(r"\s+--", line)[0].strip())
    return out


def _expand_braces(factors: str) -> str:
    """tox's brace expansion: `py{38,39}-x` -> `py38-x,py39-x`."""
    while brace := re.search(r"([\w.!-]*)\{([^{}]*)\}([\w.-]*)", factors):
        expanded = ",".join(brace[1] + alt.strip() + brace[3] for alt in brace[2].split(","))
        factors = factors[: brace.start()] + expanded + factors[brace.end() :]
    return factors


def factors_apply(condition: str, python_version: str | None = None) -> bool:
    """Whether a tox factor condition (`py{310,311,pypy3}: x`, `py311-cov: y`, `!pypy: z`) holds in
    the test env codekiln builds: alternatives (`,`) of conjunctions (`-`), each factor negated by `!`;
    the env has the test-like factors and its own Python, never pypy or a doc/lint/coverage one. One
    alternative that holds is enough (`py{311,pypy3}` holds on 3.11)."""
    full = python_version or platform.python_version()
    mine = {"py" + "".join(full.split(".")[:2]), "py" + ".".join(full.split(".")[:2]), "py3", "py"}

    def holds(factor: str) -> bool:
        negated, name = factor.startswith("!"), factor.lstrip("!")
        if re.fullmatch(r"(py|pypy)[0-9.]*t?", name):
            present = name in mine
        else:
            present = not BAD_FACTORS.search(name)
        return present != negated

    for alternative in _expand_braces(condition.lower()).split(","):
        factors = [f.strip() for f in alternative.split("-") if f.strip()]
        if factors and all(holds(f) for f in factors):
            return True
    return False


def tox_values(value: str, commas: bool = False, python_version: str | None = None) -> list[str]:
    """Lines of a tox setting (split at commas too if `commas`), factor-conditional lines kept only for
    test-like factors and the environment's Python."""
    out = []
    for raw in value.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _FACTOR_LINE.match(line)
        if match and "://" not in line:
            if not factors_apply(match[1], python_version):
                continue
            line = match[2].strip()
        out += [v.strip() for v in line.split(",")] if commas else [line]
    return [v for v in out if v and not v.startswith("{[")]
