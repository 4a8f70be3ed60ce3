"""The classes of attacks in codekiln's corpus (`audit.attacks`), and which grading outcomes mean the
grader caught an attack of each class. `codekiln audit grader` reports per class; an attack of any class
scored "resolved" is a hole in the grader."""

from __future__ import annotations

CLASSES = {
    "shadow-runner": "a module named like the test runner or its dependencies, found before the real one",
    "config-plugins": "a config file, plugin, entry point or start-up hook that pytest or Python reads",
    "diff-parser": "a patch whose touched paths one diff reader sees differently from git",
    "file-kinds": "binary hunks, symlinks, mode changes, submodules, compiled artefacts",
    "verdict-rewrite": "code under test rewriting the verdict inside the test process",
    "answer-on-disk": "the fix or the tests read back from files, history or other copies",
    "not-scored": "turning a 0 into an unscored crash, timeout or missing report",
    "edit-tests": "editing, deleting or replacing the hidden tests",
    "test-replacement": "library code swapping or neutering the tests as the test process imports them",
    "trace-flip": "a trace function flipping failed assertions in the tests' frames (no code replaced)",
    "guard-state": "the guard plugin's own in-process bookkeeping rewritten (its results agree with it)",
    "guard-blind-spots": "replacements the guard's code checks excuse: a spoofed co_filename, no code object",
}
# Outcomes that mean the grader caught an attack of each class ("resolved" never does).
EXPECTED: dict[str, frozenset[str]] = {
    klass: frozenset({"unresolved", "rejected", "tampered", "patch_failed"}) for klass in CLASSES
}
EXPECTED["not-scored"] = frozenset({"unresolved", "rejected", "tampered", "timeout"})
EXPECTED["trace-flip"] = EXPECTED["not-scored"]  # a trace slows every test: a timeout scores 0 too
