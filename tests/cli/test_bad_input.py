"""A new user's mistakes, through the real `codekiln` entry point (`run(app)` on argv, in this process;
one test also as a program): every one ends in `error:` + `hint:` naming what went wrong (the file and
line, the flag, the path) and exit 1, never a traceback, an exit 0 with a wrong or empty result, or a
silently dropped line. All fail before any sandbox starts, so they need neither root nor a built
environment."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import Codekiln

from codekiln.testing.recorded import recorded_tasks

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "tests" / "fixtures" / "recorded" / "toolz-1.2.0.tasks.jsonl"


def program(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`codekiln ARGV...` as a program (for what only a whole process shows: its warnings)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-c", "from codekiln.cli import main; main()", *map(str, argv)]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def refused(done: subprocess.CompletedProcess[str]) -> str:
    """The `error:` line of a command that must fail cleanly (exit 1, a hint, no traceback)."""
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in out and "  hint: " in out, out
    return next(line for line in done.stderr.splitlines() if line.startswith("error: "))


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return [task.model_dump_json() for task in recorded_tasks(TASKS)[:3]]


def test_a_corrupt_task_line_is_named_not_skipped(
    codekiln: Codekiln, tmp_path: Path, lines: list[str]
) -> None:
    # It used to be skipped: the run went on with the other tasks and exited 0.
    (tmp_path / "tasks.jsonl").write_text(f'{lines[0]}\n{{"bad json\n{lines[1]}\n')
    error = refused(
        codekiln("rollout", "--tasks", "tasks.jsonl", "--model", "oracle", "--out", "r", cwd=tmp_path)
    )
    assert error.startswith("error: tasks.jsonl:2: not valid JSON")


def test_a_task_line_of_another_shape_names_its_fields(codekiln: Codekiln, tmp_path: Path) -> None:
    (tmp_path / "tasks.jsonl").write_text('{"a": 1}\n')
    error = refused(
        codekiln("rollout", "--tasks", "tasks.jsonl", "--model", "oracle", "--out", "r", cwd=tmp_path)
    )
    assert error.startswith("error: tasks.jsonl:1: not a TaskRecord (instance_id: Field required")


def test_a_torn_last_task_line_is_dropped_with_a_warning_naming_it(
    codekiln: Codekiln, tmp_path: Path, lines: list[str]
) -> None:
    (tmp_path / "tasks.jsonl").write_text(lines[0][:500])
    done = program("rollout", "--tasks", "tasks.jsonl", "--model", "oracle", "--out", "r", cwd=tmp_path)
    assert "warning: tasks.jsonl:1: dropped a partial last line (500 bytes)" in done.stderr
    assert refused(done) == "error: tasks.jsonl holds no tasks"


@pytest.mark.parametrize("command", ["eval", "export", "curriculum", "rollout export"])
def test_a_corrupt_rollouts_line_is_named_by_every_reader(
    codekiln: Codekiln, tmp_path: Path, command: str
) -> None:
    rollouts = tmp_path / "r" / "rollouts.jsonl"
    rollouts.parent.mkdir()
    rollouts.write_text('{"oops\n{"a": 1}\n')
    argv = {
        "eval": ["eval", "--rollouts", "r", "--tasks", TASKS, "--out", "e"],
        "export": ["export", "sft", "r", "--out", "sft"],
        "curriculum": ["curriculum", "r", "--tasks", TASKS, "--out", "c"],
        "rollout export": ["rollout", "export", "r", "--to", "mini", "--out", "m"],
    }[command]
    assert refused(codekiln(*argv, cwd=tmp_path)).startswith("error: r/rollouts.jsonl:1: not valid JSON")


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--n", "0"], "error: bad value for --n 0: Input should be greater than or equal to 1"),
        (["--workers", "0"], "error: bad value for --workers 0: Input should be greater than or equal to 1"),
        (
            ["--max-turns", "0"],
            "error: bad value for --max-turns 0: Input should be greater than or equal to 1",
        ),
    ],
)
def test_a_flag_value_the_config_refuses_names_the_flag(
    codekiln: Codekiln, tmp_path: Path, flags: list[str], error: str
) -> None:
    done = codekiln("rollout", "--tasks", TASKS, "--model", "oracle", "--out", "r", *flags, cwd=tmp_path)
    assert refused(done) == error


def test_an_out_that_is_a_file_is_refused(codekiln: Codekiln, tmp_path: Path) -> None:
    (tmp_path / "r").write_text("notes\n")
    done = codekiln("rollout", "--tasks", TASKS, "--model", "oracle", "--out", "r", cwd=tmp_path)
    assert refused(done) == "error: --out r is a file, not a directory"
    assert (tmp_path / "r").read_text() == "notes\n"


def test_predictions_rows_stay_strict(codekiln: Codekiln, tmp_path: Path, lines: list[str]) -> None:
    # The reader the others now match: eval's predictions already named the file and line.
    task = json.loads(lines[0])
    row = {"instance_id": task["instance_id"], "model_name_or_path": "m", "model_patch": task["patch"]}
    (tmp_path / "p.jsonl").write_text(json.dumps(row) + "\n" + "{]\n")
    done = codekiln("eval", "--tasks", TASKS, "--predictions", "p.jsonl", "--out", "e", cwd=tmp_path)
    assert refused(done).startswith("error: p.jsonl:2: not valid JSON")


def test_an_option_given_twice_is_refused_not_overwritten(codekiln: Codekiln, tmp_path: Path) -> None:
    # `-o` is --out in rollout: `-o temperature=0.2 --out r` ran into r and dropped the option, exit 0.
    done = codekiln(
        "rollout", "--tasks", TASKS, "--model", "oracle", "-o", "temperature=0.2", "--out", "r", cwd=tmp_path
    )
    assert refused(done) == "error: --out given 2 times (-o, --out): only the last would count"
    assert "model options are --option key=value" in done.stderr and not (tmp_path / "r").exists()


def test_an_option_value_of_the_wrong_type_names_the_option(codekiln: Codekiln, tmp_path: Path) -> None:
    # It was a TypeError traceback from inside the first HTTP request.
    model = "openai:m@http://127.0.0.1:9/v1"
    done = codekiln(
        "rollout", "--tasks", TASKS, "--model", model, "--option", "timeout=abc", "--out", "r", cwd=tmp_path
    )
    assert refused(done).startswith(
        "error: bad option timeout='abc' for the openai model: Input should be a valid number"
    )
    # The failed run does not bind r to the typo: the corrected command is not "another configuration".
    fixed = ["--option", "timeout=1", "--option", "retries=0"]
    done = codekiln("rollout", "--tasks", TASKS, "--model", model, *fixed, "--out", "r", cwd=tmp_path)
    assert "cannot reach http://127.0.0.1:9/v1/models" in refused(done)


def test_format_eval_refuses_an_option_its_own_flag_sets(codekiln: Codekiln, tmp_path: Path) -> None:
    # It was a TypeError traceback: make_model() got multiple values for keyword argument 'format'.
    (tmp_path / "script.json").write_text('["hi"]')
    argv = [
        "formats",
        "eval",
        "--model",
        "scripted:script.json",
        "--option",
        "format=hermes",
        "--formats",
        "hermes",
    ]
    assert refused(codekiln(*argv, "--out", "f.json", cwd=tmp_path)) == (
        "error: --option format=... names what --formats sets in format evaluation"
    )


@pytest.fixture
def predictions(tmp_path: Path, lines: list[str]) -> Path:
    rows = [json.loads(line) for line in lines]
    path = tmp_path / "p.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"instance_id": t["instance_id"], "model_name_or_path": "m", "model_patch": t["patch"]}
            )
            + "\n"
            for t in rows
        )
    )
    return path


@pytest.mark.parametrize(
    ("flags", "error"),
    [  # each used to give every sample the same failure, stored as its result, and exit 0
        (["--backend", "bogus"], "error: unknown sandbox backend 'bogus'"),
        (["--timeout", "-1"], "error: --timeout -1: a test run needs a positive number of seconds"),
    ],
)
def test_eval_refuses_a_grading_setting_that_fails_every_sample(
    codekiln: Codekiln, tmp_path: Path, predictions: Path, flags: list[str], error: str
) -> None:
    done = codekiln(
        "eval", "--tasks", TASKS, "--predictions", predictions, "--out", "e", *flags, cwd=tmp_path
    )
    assert refused(done) == error and not (tmp_path / "e" / "results.jsonl").exists()


def test_eval_where_every_sample_is_masked_exits_1(
    codekiln: Codekiln, tmp_path: Path, predictions: Path
) -> None:
    # A sandbox that cannot start masks every sample: the run said "resolved: 0/0" and exited 0.
    broken = ["--backend", "codekiln.sandbox.base:Sandbox"]
    done = codekiln(
        "eval", "--tasks", TASKS, "--predictions", predictions, "--out", "e", *broken, cwd=tmp_path
    )
    assert refused(done).startswith("error: every one of the 3 samples failed for infrastructure reasons")
    assert "--redo" in done.stderr


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--backend", "bogus"], "error: unknown sandbox backend 'bogus'"),  # it masked every episode
        (["--option", "temprature=0.2"], "error: the oracle control takes no --option (got temprature)"),
        (["--reward", "passed"], "error: bad value for --reward 'passed'"),  # it said --outcome
    ],
)
def test_rollout_refuses_what_it_would_ignore_or_fail_on(
    codekiln: Codekiln, tmp_path: Path, flags: list[str], error: str
) -> None:
    done = codekiln("rollout", "--tasks", TASKS, "--model", "oracle", "--out", "r", *flags, cwd=tmp_path)
    assert refused(done) == error


def test_synth_refuses_an_unknown_export_before_synthesizing(codekiln: Codekiln, tmp_path: Path) -> None:
    # It was found only after the whole run (70 s on toolz for one task).
    done = codekiln("synth", "pypi:toolz==1.2.0", "--out", "s", "--export", "parquet", cwd=tmp_path)
    assert refused(done) == "error: unknown export format 'parquet'" and not (tmp_path / "s").exists()


def test_tasks_whose_environment_this_home_lacks_say_how_to_build_it(
    codekiln: Codekiln, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hint was `codekiln repo add <environment id>`, which `repo add` refuses.
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    done = codekiln("rollout", "--tasks", TASKS, "--model", "oracle", "--out", "r", cwd=tmp_path)
    assert refused(done).startswith("error: no environment or snapshot '")
    assert "codekiln env build SPEC" in done.stderr and "repo add" not in done.stderr


def test_a_report_path_that_is_a_directory_is_named(
    codekiln: Codekiln, tmp_path: Path, lines: list[str]
) -> None:
    # It was an IsADirectoryError traceback from the atomic write.
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "tasks.jsonl").write_text("".join(line + "\n" for line in lines))
    (tmp_path / "report.html").mkdir()
    done = codekiln("report", "synth", "--out", "report.html", cwd=tmp_path)
    assert refused(done) == "error: report.html is a directory where a file is needed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "synth"]  # no temporary file left


def test_ctrl_c_says_the_finished_work_is_kept(tmp_path: Path) -> None:
    # Ctrl-C used to end the run silently (exit 130). Here it lands while the model's server is silent.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    model = f"openai:m@http://127.0.0.1:{silent.getsockname()[1]}/v1"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "CODEKILN_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-c", "from codekiln.cli import main; main()", "rollout", "--tasks", str(TASKS)]
    with (
        silent,
        subprocess.Popen(
            [*cmd, "--model", model, "--out", "r"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
        ) as run,
    ):
        deadline = time.monotonic() + 60
        while not (tmp_path / "r" / "manifest.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "Traceback" not in err
    assert "interrupted: finished work is saved; rerun the same command to resume" in err


@pytest.mark.parametrize(
    ("option", "error"),
    [
        ("preset.yaml", "error: config file preset.yaml is not valid YAML (line 2, column 1)"),
        ("stop=[a", "error: the value of stop is not valid YAML (line 1, column 3)"),
    ],
)
def test_malformed_yaml_options_are_named(
    codekiln: Codekiln, tmp_path: Path, option: str, error: str
) -> None:
    # Both were a yaml ScannerError traceback.
    (tmp_path / "preset.yaml").write_text("stop: [a, b\n")
    done = codekiln(
        "rollout", "--tasks", TASKS, "--model", "embedded", "--option", option, "--out", "r", cwd=tmp_path
    )
    assert refused(done).startswith(error)


def test_a_file_that_is_not_parquet_is_named(codekiln: Codekiln, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    (tmp_path / "tasks.parquet").write_text("not parquet\n")  # it was a pyarrow ArrowInvalid traceback
    done = codekiln("rollout", "--tasks", "tasks.parquet", "--model", "oracle", "--out", "r", cwd=tmp_path)
    assert refused(done).startswith("error: tasks.parquet is not a readable parquet file")


def test_an_out_that_reads_as_an_option_is_refused(codekiln: Codekiln, tmp_path: Path) -> None:
    # `-o` is --out in rollout and synth: alone, `-o temperature=0.2` made a directory of that name.
    done = codekiln("rollout", "--tasks", TASKS, "--model", "oracle", "-o", "temperature=0.2", cwd=tmp_path)
    assert refused(done) == "error: --out temperature=0.2 looks like an option key=value, not a directory"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [
        ("rollout", "export", "runs/nope", "--to", "atif", "--out", "x"),
        ("rollout", "export", "runs/nope", "--to", "mini", "--out", "x"),
        ("audit", "rollouts", "runs/nope"),
        ("curriculum", "runs/nope", "--tasks", "runs/nope", "--out", "x"),
    ],
)
def test_a_mistyped_rollouts_path_is_an_error_in_every_reader(
    codekiln: Codekiln, tmp_path: Path, argv: tuple[str, ...]
) -> None:
    # `rollout export` of a path that does not exist printed "0 atif trajectories in x" and exited 0.
    error = refused(codekiln(*argv, cwd=tmp_path))
    assert "runs/nope" in error
    assert not (tmp_path / "x").exists()
