"""A failed environment build through the real path: kept, shown, reported again without rebuilding,
retried on --rebuild or a changed profile, and its hint is a line that fixes it in a named file."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codekiln.cli.env import app
from codekiln.core.config import home
from codekiln.core.errors import EnvBuildError

pytestmark = pytest.mark.root  # builds environments in bwrap sandboxes
MISSING = "codekiln-no-such-dist-xyz"


def _project(root: Path) -> str:
    """A fresh one-test project (a new name and snapshot every run) that needs a dist that does not exist."""
    name = f"needs-missing-{uuid.uuid4().hex[:8]}"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VALUE = 4\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_pkg.py").write_text(
        "from pkg import VALUE\n\n\ndef test_value():\n    assert VALUE == 4\n"
    )
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "0.1"\ndependencies = ["iniconfig", "{MISSING}>=1"]\n'
        '[tool.setuptools]\npackages = ["pkg"]\n'
    )
    return name


def _error(result: object) -> EnvBuildError:
    err = getattr(result, "exception", None)
    assert isinstance(err, EnvBuildError), getattr(result, "output", "")
    return err


def test_failed_build_is_kept_shown_cached_and_fixed_by_the_hinted_line(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    name = _project(root)
    profile = home() / "profiles" / f"{name}.yaml"
    runner = CliRunner()
    try:
        first = _error(runner.invoke(app, ["build", str(root)]))
        assert first.data["step"] == "install"
        assert f"{MISSING} not found" in first.message
        assert "recorded failure" not in first.message
        hint = first.hint or ""
        assert f"add this line to {profile} (create it if missing):\n      skip_deps: [{MISSING}]" in hint
        log = Path(hint.split("full log: ")[1].strip())
        assert MISSING in log.read_text()
        logged = log.read_text()

        shown = runner.invoke(app, ["show", str(root)], env={"COLUMNS": "250"})
        assert shown.exit_code == 0, shown.output
        for text in ("build failed", "at step 'install'", "pytest tests", "(top-level test directories)",
                     str(log), f"skip_deps: [{MISSING}]", str(profile)):  # fmt: skip
            assert text in shown.output, text

        # Built again (env build, env test): the recorded failure at once, no pip run.
        for argv in (["build", str(root)], ["test", str(root)], ["test", first.data["env_id"]]):
            again = _error(runner.invoke(app, argv))
            assert "recorded failure from" in again.message and again.hint == first.hint
        assert log.read_text() == logged
        # --rebuild runs the build again (and fails again, the same way).
        rebuilt = _error(runner.invoke(app, ["build", str(root), "--rebuild"]))
        assert "recorded failure" not in rebuilt.message and rebuilt.data["step"] == "install"

        # The line the hint names, in the file it names: a changed profile is a new build, and it builds.
        profile.parent.mkdir(parents=True, exist_ok=True)
        profile.write_text(f"skip_deps: [{MISSING}]\n")
        fixed = runner.invoke(app, ["build", str(root)])
        assert fixed.exit_code == 0, f"{fixed.output}\n{fixed.exception}"
        assert "1 passed, 0 failed" in fixed.output
        tested = runner.invoke(app, ["test", str(root)])
        assert tested.output.rstrip().splitlines()[-1] == "1 passed, 0 failed"
    finally:
        profile.unlink(missing_ok=True)


def test_a_suite_past_its_limit_names_the_profile_key_that_raises_it(tmp_path: Path) -> None:
    """A baseline that runs past its limit (a big suite on a loaded machine) fails with the profile line
    that raises the limit, not a guess at the test command."""
    root = tmp_path / "slow"
    name = _project(root)
    (root / "pyproject.toml").write_text(
        (root / "pyproject.toml").read_text().replace(f', "{MISSING}>=1"', "")
    )
    (root / "tests" / "test_pkg.py").write_text("import time\n\n\ndef test_slow():\n    time.sleep(300)\n")
    profile = tmp_path / f"{name}.yaml"
    profile.write_text("timeout_s: 3\n")
    err = _error(CliRunner().invoke(app, ["build", str(root), "--profile", str(profile)]))
    assert err.data["step"] == "baseline" and "passed its 3 s limit" in err.message
    assert f"add this line to {profile} (the profile given with --profile):\n      timeout_s: 6" in (
        err.hint or ""
    )
