"""Read a pytest command line the way pytest's own option table does, and keep what decides the suite.

    parse_pytest_args(["-v", "--doctest-modules", "--ignore", "benchmark", "-k", "not slow", "tests"], root)
    # -> PytestArgs(args=["--doctest-modules", "--ignore=benchmark", "-knot slow", "tests"],
    #               dropped=["-v"])

Options that take a value are joined with it into one word (`--ignore=benchmark`, `-knot slow`,
`-pno:randomly`), so a caller that keeps options and replaces the paths never splits an option from its
value. Options that only change output, speed or stopping (`-v`, `-x`, `--tb`, `--cov`, `-n`, ...) and
options of plugins this table does not know are dropped and named in `dropped`. The table follows pytest
9's own (`tests/envs/test_testcmd.py` checks it against pytest's parser).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# pytest core options (and those of a few common plugins) that take one value: `--opt V` or `--opt=V`.
VALUE = {
    "--assert", "--basetemp", "--capture", "--code-highlight", "--color", "--confcutdir", "--config-file",
    "--deselect", "--doctest-glob", "--doctest-report", "--durations", "--durations-min", "--ignore",
    "--ignore-glob", "--import-mode", "--junit-prefix", "--junit-xml", "--junitprefix", "--junitxml",
    "--log-auto-indent", "--log-cli-date-format", "--log-cli-format", "--log-cli-level", "--log-date-format",
    "--log-disable", "--log-file", "--log-file-date-format", "--log-file-format", "--log-file-level",
    "--log-file-mode", "--log-format", "--log-level", "--max-warnings", "--maxfail", "--override-ini",
    "--pastebin", "--pdbcls", "--pythonwarnings", "--report-chars", "--rootdir", "--session-timeout",
    "--show-capture", "--tb", "--verbosity", "-W", "-c", "-k", "-m", "-o", "-p", "-r",
    # plugins
    "--timeout", "--timeout-method", "--timeout_method", "--hypothesis-profile", "--hypothesis-seed",
    "--hypothesis-verbosity", "--anyio-mode", "--cov-report", "--cov-config", "--cov-fail-under",
    "--cov-context", "-n", "--numprocesses", "--dist", "--maxprocesses", "--tx", "--rsyncdir", "--reruns",
    "--reruns-delay", "--only-rerun", "--randomly-seed", "--benchmark-min-rounds", "--benchmark-max-time",
    "--benchmark-warmup", "--benchmark-sort", "--benchmark-group-by", "--benchmark-json", "--asyncio-mode",
    "--html", "--dist-load", "--splits", "--group",
}  # fmt: skip
OPTIONAL_VALUE = {"--debug", "--cov"}  # nargs="?": take the next word unless it is an option
FLAGS = {
    "--cache-clear", "--co", "--collect-in-virtualenv", "--collect-only", "--collectonly",
    "--continue-on-collection-errors", "--disable-plugin-autoload", "--disable-pytest-warnings",
    "--disable-warnings", "--doctest-continue-on-failure", "--doctest-ignore-import-errors",
    "--doctest-modules", "--exitfirst", "--failed-first", "--ff", "--fixtures", "--fixtures-per-test",
    "--force-short-summary", "--full-trace", "--fulltrace", "--funcargs", "--help", "--keep-duplicates",
    "--keepduplicates", "--last-failed", "--lf", "--markers", "--new-first", "--nf", "--no-fold-skipped",
    "--no-header", "--no-showlocals", "--no-summary", "--noconftest", "--pdb", "--pyargs", "--quiet",
    "--runxfail", "--setup-only", "--setup-plan", "--setup-show", "--setuponly", "--setupplan",
    "--setupshow", "--showlocals", "--stepwise", "--stepwise-reset", "--stepwise-skip", "--strict",
    "--strict-config", "--strict-markers", "--sw", "--sw-reset", "--sw-skip", "--trace", "--trace-config",
    "--traceconfig", "--verbose", "--version", "--xfail-tb", "-V", "-h", "-l", "-q", "-s", "-v", "-x",
    "--no-cov", "--cov-append", "--cov-branch", "--benchmark-disable", "--benchmark-skip",
    "--benchmark-only", "--hypothesis-show-statistics", "--hypothesis-explain", "--looponfail", "-f",
    "--forked", "--boxed", "--timeout-disable-debugger-detection",
}  # fmt: skip
# Options kept: those that decide which tests exist and how they are collected or run.
KEEP = {
    "--deselect", "--doctest-glob", "--ignore", "--ignore-glob", "--import-mode", "--override-ini",
    "--pythonwarnings", "--rootdir", "--confcutdir", "--config-file", "--doctest-modules",
    "--doctest-continue-on-failure", "--doctest-ignore-import-errors", "--doctest-report", "--pyargs",
    "--runxfail", "--strict", "--strict-config", "--strict-markers", "--continue-on-collection-errors",
    "--noconftest", "--keep-duplicates", "--keepduplicates", "--collect-in-virtualenv", "--assert",
    "--capture", "--hypothesis-profile", "--anyio-mode", "--asyncio-mode", "-W", "-c", "-k", "-m", "-o",
    "-p", "-s",
}  # fmt: skip
SHORT_VALUE = {o for o in VALUE if len(o) == 2}


@dataclass
class PytestArgs:
    """A pytest command line read with the option table: kept args (values joined), paths, dropped."""

    args: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _join(name: str, value: str) -> str:
    return f"{name}{value}" if len(name) == 2 else f"{name}={value}"


def _installed_copy(path: str, root: Path) -> str:
    """tox's `{envsitepackagesdir}/PKG` (the installed copy of the project's package, where its doctests
    run) as the package's directory in the source tree, which the environment installs: `PKG` or
    `src/PKG`. Any other path is returned as it is."""
    prefix = "{envsitepackagesdir}/"
    if not path.startswith(prefix):
        return path
    rest = path[len(prefix) :]
    return next((rel for rel in (rest, f"src/{rest}") if rest and (root / rel).exists()), path)


def parse_pytest_args(words: list[str], root: Path) -> PytestArgs:
    """The arguments after `pytest` in a project's command, read as pytest reads them (see the module
    docstring). Paths are kept when they exist under `root` (node ids: when their file exists)."""
    out = PytestArgs()
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            continue
        if not word.startswith("-") or word == "-":
            path = _installed_copy(word.rstrip("/") or word, root)
            if "{" not in path and path != "." and (root / path.split("::")[0]).exists():
                out.paths.append(path)
                out.args.append(path)
            elif path != ".":
                out.dropped.append(word)
            continue
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if not word.startswith("--") and len(word) > 2:
            if word[:2] in SHORT_VALUE:  # -kEXPR, -pno:x
                name, eq, value = word[:2], "=", word[2:]
            elif all(f"-{c}" in FLAGS for c in word[1:]):  # -vx: a bundle of flags
                kept = [c for c in word[1:] if f"-{c}" in KEEP]
                out.args += [f"-{c}" for c in kept]
                out.dropped += [f"-{c}" for c in word[1:] if c not in kept]
                continue
        if name in VALUE and not eq:
            if i >= len(words):
                out.dropped.append(word)
                continue
            value, eq = words[i], "="
            i += 1
        elif name in OPTIONAL_VALUE and not eq and i < len(words) and not words[i].startswith("-"):
            value, eq = words[i], "="
            i += 1
        if name not in KEEP or "{" in value:
            out.dropped.append(f"{name}{'=' + value if eq else ''}")
            continue
        out.args.append(_join(name, value) if eq else name)
    return out
