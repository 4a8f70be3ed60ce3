"""The extension points of codekiln's base classes are abstract methods: every registered implementation
provides them, and a subclass that forgets one fails when it is built, naming the method, instead of at
its first call deep in a run."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from codekiln.agents.envbuild import EnvBuildScaffold
from codekiln.agents.scaffolds import SCAFFOLDS, Scaffold
from codekiln.agents.tools import Tool
from codekiln.models import BACKENDS, MODELS
from codekiln.models.base import FormatModel
from codekiln.rollouts.controls import ControlModel
from codekiln.sandbox.base import SANDBOXES
from codekiln.sandbox.common import HostSandbox
from codekiln.tasks.frontend.mutators import MUTATORS, Mutator, load_mutators

HOOKS: list[tuple[type[Any], str]] = [
    (HostSandbox, "_launch"),
    (Scaffold, "make_tools"),
    (Tool, "call"),
    (Mutator, "mutate"),
    (FormatModel, "_complete"),
]


def registered() -> list[type[Any]]:
    classes = [SANDBOXES.load(n) for n in SANDBOXES.names()]
    classes += [SCAFFOLDS.load(n) for n in SCAFFOLDS.names()] + [EnvBuildScaffold]
    classes += [MUTATORS.load(n) for n in MUTATORS.names()]
    classes += [MODELS.load(n) for n in BACKENDS if isinstance(MODELS.load(n), type)] + [ControlModel]
    return classes


@pytest.mark.parametrize("cls", registered(), ids=lambda c: c.__name__)
def test_registered_implementations_are_concrete(cls: type[Any]) -> None:
    assert any(issubclass(cls, base) for base, _ in HOOKS)
    assert not inspect.isabstract(cls), f"{cls.__name__} leaves {sorted(cls.__abstractmethods__)} abstract"


def test_scaffolds_and_their_tools_build() -> None:
    for cls in [*(SCAFFOLDS.load(n) for n in SCAFFOLDS.names()), EnvBuildScaffold]:
        scaffold = cls()
        assert scaffold.tools and all(isinstance(t, Tool) for t in scaffold.tools)
    assert len(load_mutators()) == len(MUTATORS.names())


@pytest.mark.parametrize(("base", "hook"), HOOKS, ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_a_subclass_that_forgets_the_hook_fails_when_built(base: type[Any], hook: str) -> None:
    assert base.__abstractmethods__ == {hook}
    forgetful = type(f"Forgetful{base.__name__}", (base,), {})
    with pytest.raises(TypeError, match=rf"abstract method '?{hook}'?"):
        forgetful()  # refused before __init__ runs, whatever arguments it needs
