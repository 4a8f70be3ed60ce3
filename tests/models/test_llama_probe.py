"""The llama.cpp build check runs its probe in a real child process: a child killed by SIGILL (what a
build for another CPU does on its first token) is a ModelError naming the rebuild, not a dead run."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from codekiln.core.errors import ModelError
from codekiln.models.llama_probe import PORTABLE_CMAKE_ARGS, check_llama_build

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (the embedded extra)")


def test_a_build_that_dies_of_sigill_is_named_with_the_rebuild(tmp_path: Path) -> None:
    probe = f"# {uuid.uuid4()}\nimport os, signal\nos.kill(os.getpid(), signal.SIGILL)\n"
    with pytest.raises(ModelError) as err:
        check_llama_build(tmp_path / "model.gguf", probe=probe)
    assert "SIGILL" in err.value.message
    assert err.value.hint is not None and PORTABLE_CMAKE_ARGS in err.value.hint


def test_a_build_that_runs_is_checked_once(tmp_path: Path) -> None:
    flag = tmp_path / "ran"
    probe = f"# {uuid.uuid4()}\nimport pathlib\npathlib.Path({str(flag)!r}).touch()\n"
    check_llama_build(tmp_path / "model.gguf", probe=probe)
    assert flag.exists()
    flag.unlink()
    check_llama_build(tmp_path / "model.gguf", probe=probe)  # remembered: no second child
    assert not flag.exists()


def test_another_failure_is_left_to_the_real_load(tmp_path: Path) -> None:
    check_llama_build(tmp_path / "model.gguf", probe=f"# {uuid.uuid4()}\nraise SystemExit(3)\n")
