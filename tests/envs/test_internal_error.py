"""A run that pytest ends with an internal error says what was raised and where, read from real pytest
runs. google-api-core: `filterwarnings = error` made a plugin's start-up warning (pytest-asyncio's
"asyncio_default_fixture_loop_scope is unset") an INTERNALERROR before the session began, and the build
said only "no test report: the test process ended before its session did (exit code 3)"; the error kept
the last line of a two-line message, without the warning's type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from codekiln.grading import internal_error
from codekiln.testing import write_files

WARNS_AT_START = (
    "import warnings\n\n\ndef pytest_configure(config):\n"
    "    warnings.warn(DeprecationWarning('option x is unset.\\nIt will default to y.'))\n"
)


def _pytest(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-p", "no:cacheprovider", "tests"],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_warning_made_an_error_at_start_up_is_named_with_its_type_and_where_it_was_raised(
    tmp_path: Path,
) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            "pyproject.toml": '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n',
            "tests/conftest.py": WARNS_AT_START,
            "tests/test_a.py": "def test_a():\n    pass\n",
        },
    )
    res = _pytest(root)
    assert res.returncode == 3, res.stdout + res.stderr
    assert internal_error(res.stdout + res.stderr) == (
        "pytest stopped with an internal error (exit code 3): DeprecationWarning: option x is unset. "
        f"(raised in {root}/tests/conftest.py, line 5, in pytest_configure)"
    )


def test_a_crash_inside_pytest_itself_names_the_exception_and_no_place(tmp_path: Path) -> None:
    """pydantic-settings: pytest failed rendering a failure (its own frames only)."""
    log = (
        "INTERNALERROR> Traceback (most recent call last):\n"
        'INTERNALERROR>   File "/opt/venv/lib/python3.11/site-packages/_pytest/_code/code.py", line 1097, '
        "in repr_traceback_entry\n"
        "INTERNALERROR>     end_line_index = entry.end_lineno_relative\n"
        'INTERNALERROR>   File "/usr/lib/python3.11/inspect.py", line 1, in getsource\n'
        "INTERNALERROR>     x\n"
        "INTERNALERROR> RuntimeError: generator raised StopIteration\n"
    )
    assert internal_error(log) == (
        "pytest stopped with an internal error (exit code 3): RuntimeError: generator raised StopIteration"
    )
