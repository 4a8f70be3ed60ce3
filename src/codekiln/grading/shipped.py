"""The files of `codekiln.grading` that run outside codekiln, copied there by file path: the one list
that the grader, the Harbor verifier, the Harbor exporter and the tests read.

    GUARD_PLUGIN                                  # into every guarded test process (`grading.guard`)
    guard_plugin_names("codekiln_guard_1a2b3c4d") # file -> the module name it is loaded under there
    VERIFIER                                      # an exported Harbor task's tests/codekiln/
    ROW                                           # an exported SWE-bench row's guarded test step

Each of them imports nothing from codekiln when it runs there: only the standard library, pytest (the
guard plugin's files: the test process has it) and its siblings in the list, by bare name.
`tests/grading/test_shipped.py` runs them with codekiln unimportable, and an import-linter contract
keeps the rest of codekiln out of them. This module is one of them: the verifier reads it.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
"""Where the files are: `codekiln/grading/`, or a Harbor task's tests/codekiln/ when shipped."""

GUARD_PLUGIN = (
    "guard_plugin.py",
    "guard_plugin_machinery.py",
    "guard_plugin_report.py",
    "guard_plugin_speedups.py",
    "guard_plugin_support.py",
    "guard_plugin_held.py",
    "guard_plugin_spaces.py",
    "guard_plugin_sources.py",
    "guard_plugin_trace.py",
    "guard_plugin_bodies.py",
    "guard_plugin_standins.py",
    "guard_plugin_tables.py",
    "guard_plugin_literals.py",
    "guard_plugin_reads.py",
    "guard_plugin_hide.py",
    "guard_plugin_callers.py",
    "guard_plugin_equality.py",
    "guard_plugin_coverage.py",
)
"""The guard plugin, then its parts (each loaded as the plugin's module name + its suffix)."""

VERIFIER = (
    "verifier.py",
    "verifier_files.py",
    "verifier_twin.py",
    "shipped.py",
    "pathrules.py",
    "libnames.py",
    "doctests.py",
    "guard_check.py",
    "scan.py",
    "scan_classwalk.py",
    "scan_reach.py",
    "scan_rules.py",
    "scan_fold.py",
    "scan_modules.py",
    "scan_parse.py",
    "scan_strings.py",
    "unstable_ids.py",
    "suite_order.py",
    "guard_main.py",
    *GUARD_PLUGIN,
)
"""The verifier of an exported Harbor task and every file it reads, side by side."""

ROW = (*VERIFIER, "row_verifier.py")
"""What an exported SWE-bench row's eval script writes outside the repository and runs: the verifier's
guarded test run, printed as swebench's log parser reads it (`row_verifier`)."""


def guard_plugin_names(module: str) -> dict[str, str]:
    """Each file of `GUARD_PLUGIN` -> the module name it is loaded under when the plugin is `module`:
    `guard_plugin_machinery.py` -> `<module>_machinery`. A fresh `module` per run keeps every part's
    name unknown to the code under test, as the plugin's own is."""
    return {name: module + name.removeprefix("guard_plugin").removesuffix(".py") for name in GUARD_PLUGIN}
