"""The scan's `class-walk` (`grading.scan_classwalk`): the class tree walked down from a root the module
does not define is a finding, however the root or the method is reached; a library's own registry
(`Base.__subclasses__()`, `cls.__subclasses__()` in its classmethod, a recursive helper fed its
classes) is not."""

from __future__ import annotations

import textwrap

import pytest

from codekiln.grading.patchrules import is_protected
from codekiln.grading.scan import scan_changes, scan_source
from codekiln.grading.scan_delta import added_findings

WALK_FROM_OBJECT = """
def _classes():
    todo, seen = [object], set()
    while todo:
        cls = todo.pop()
        if id(cls) not in seen:
            seen.add(id(cls))
            todo.extend(type.__subclasses__(cls))
            yield cls
"""

ATTACKS = {
    "the red team's walk": WALK_FROM_OBJECT,
    "object's own": "def f():\n    return object.__subclasses__()",
    "type, unbound": "def f(c):\n    return type.__subclasses__(c)",
    "a builtin": "def f():\n    return int.__subclasses__()",
    "an imported class": "import unittest\ndef f():\n    return unittest.TestCase.__subclasses__()",
    "a class imported by name": "from unittest import TestCase\ndef f():\n    return TestCase.__subclasses__()",
    "up from a tuple": "def f():\n    return ().__class__.__base__.__subclasses__()",
    "up the mro": "def f():\n    return int.__mro__[-1].__subclasses__()",
    "mro called": "def f(c):\n    return type(c).mro(c)[-1].__subclasses__()",
    "bases": "def f():\n    return bool.__bases__[0].__bases__[0].__subclasses__()",
    "type of self": "class A:\n    def f(self):\n        return type(self).__subclasses__()",
    "self's class": "class A:\n    def f(self):\n        return self.__class__.__subclasses__()",
    "super": "class A:\n    @classmethod\n    def f(cls):\n        return super().__subclasses__()",
    "own metaclass, unbound": "class Meta(type):\n    pass\ndef f():\n    return Meta.__subclasses__(object)",
    "own class rebound": "class Base:\n    pass\nBase = object\ndef f():\n    return Base.__subclasses__()",
    "own class rebound in a function": (
        "class Base:\n    pass\ndef g():\n    global Base\n    Base = object\ndef f():\n    return Base.__subclasses__()"
    ),
    "own class rebound through globals()": (
        "class Base:\n    pass\nglobals()['Ba' + 'se'] = object\ndef f():\n    return Base.__subclasses__()"
    ),
    "own class rebound as an attribute": (
        "import pkg.reg as me\nclass Base:\n    pass\nme.Base = object\ndef f():\n    return Base.__subclasses__()"
    ),
    "own class decorated": "@lambda c: object\nclass Base:\n    pass\ndef f():\n    return Base.__subclasses__()",
    "the method taken as a value": "class Base:\n    pass\nwalk = Base.__subclasses__\ndef f():\n    return walk()",
    "by a written name": "def f():\n    return getattr(type, '__subclasses__')(object)",
    "by a folded name": "def f():\n    return getattr(type, '__sub' + 'classes__')(object)",
    "type's namespace by key": "def f():\n    return vars(type)['__subclasses__'](object)",
    "type's namespace walked": (
        "def f(name):\n    for v in vars(type).values():\n        if v.__name__ == name:\n            return v(object)"
    ),
    "type's namespace through a climb": (
        "class Meta(type):\n    pass\ndef f(name):\n    return Meta.__base__.__dict__.get(name)(object)"
    ),
    "type(x)'s namespace": "def f(name):\n    return list(type(int).__dict__.values())",
    "an override": "class Base:\n    def __subclasses__(self):\n        return []",
    "a helper fed object": (
        "def walk(c):\n    for s in c.__subclasses__():\n        yield s\n        yield from walk(s)\n"
        "def f():\n    return list(walk(object))"
    ),
    "a helper taken as a value": (
        "class Base:\n    pass\ndef walk(c):\n    return c.__subclasses__()\n"
        "def f():\n    return walk(Base) + list(map(walk, [object]))"
    ),
    "a helper's parameter rebound": (
        "class Base:\n    pass\ndef walk(c):\n    c = object\n    return c.__subclasses__()\ndef f():\n    return walk(Base)"
    ),
    "a classmethod's cls rebound": (
        "class Base:\n    @classmethod\n    def f(cls):\n        cls = object\n        return cls.__subclasses__()"
    ),
    "a classmethod's function called with object": (
        "class Base:\n    @classmethod\n    def f(cls):\n        return cls.__subclasses__()\n"
        "def g():\n    return Base.f.__func__(object)"
    ),
    "a classmethod bound to object": (
        "class Base:\n    @classmethod\n    def f(cls):\n        return cls.__subclasses__()\n"
        "def g():\n    return Base.__dict__['f'].__get__(None, object)()"
    ),
    "a plain method's first parameter": "class Base:\n    def f(c):\n        return c.__subclasses__()",
    "abc's caches": "import abc\ndef f(c):\n    return abc._get_dump(c)",
    "abc's registry": "def f(c):\n    return c._abc_registry",
}

HONEST = {
    "a registry of the module's own class": """
        class Format:
            pass

        class Json(Format):
            pass

        def formats():
            return {c.__name__.lower(): c for c in Format.__subclasses__()}
        """,
    "a classmethod": """
        class Plugin:
            @classmethod
            def children(cls):
                return list(cls.__subclasses__())
        """,
    "a recursive helper fed the module's class": """
        class Handler:
            pass

        def all_subclasses(cls):
            out = set()
            for sub in cls.__subclasses__():
                out.add(sub)
                out |= all_subclasses(sub)
            return out

        def handlers():
            return all_subclasses(Handler)
        """,
    "a comprehension over the walk": """
        class Node:
            pass

        def leaves(cls):
            return [s for s in cls.__subclasses__() if not leaves(s)]

        ROOTS = leaves(Node)
        """,
    "__init_subclass__ that records": """
        class Base:
            registry = {}

            def __init_subclass__(cls, **kwargs):
                super().__init_subclass__(**kwargs)
                Base.registry[cls.__name__] = cls
                cls.children = cls.__subclasses__()
        """,
    "up the tree only": """
        def dispatch(obj, table):
            for klass in type(obj).__mro__:
                if klass in table:
                    return table[klass]
            return "x" in type(obj).__dict__ or type(obj).__dict__.get("y")
        """,
    "a docstring that names it": '''
        def f():
            """Not `object.__subclasses__()`."""
            return 1
        ''',
}


def kinds(code: str) -> list[str]:
    found = scan_source(textwrap.dedent(code))
    assert found is not None
    return [kind for _, kind, _ in found]


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_a_walk_from_a_root_the_module_does_not_define_is_a_finding(name: str) -> None:
    assert "class-walk" in kinds(ATTACKS[name]), name


@pytest.mark.parametrize("name", sorted(HONEST))
def test_a_librarys_own_registry_is_no_finding(name: str) -> None:
    assert kinds(HONEST[name]) == [], name


def test_only_what_a_change_adds_counts() -> None:
    old = "class Base:\n    pass\n"
    walk = old + "def f():\n    return object.__subclasses__()\n"
    found = scan_changes({"lib/reg.py": (old, walk)}, is_test=is_protected)
    assert [(f.kind, f.detail) for f in found] == [("class-walk", "object.__subclasses__")]
    assert scan_changes({"lib/reg.py": (walk, walk + "x = 1\n")}, is_test=is_protected) == []
    assert scan_changes({"tests/test_reg.py": (old, walk)}, is_test=is_protected) == []


def test_the_gates_delta_reads_the_whole_module_for_it() -> None:
    """`scan_delta` scans only the changed statements for the other kinds; a rebinding in one statement
    turns a walk in another into a finding, so `class-walk` is compared whole."""
    old = "class Base:\n    pass\n\n\ndef subs():\n    return Base.__subclasses__()\n"
    new = old + "\n\nBase = object\n"
    assert scan_changes({"lib/reg.py": (old, new)}, is_test=is_protected)[0].kind == "class-walk"
    assert [kind for _, kind, _ in added_findings(old, new)] == ["class-walk"]
    assert added_findings(new, new + "\nx = 1\n") == []


WALK = "\n\ndef walk(c):\n    return [c, *(s for sub in c.__subclasses__() for s in walk(sub))]\n\n\nx = walk(Base)\n"


@pytest.mark.parametrize(
    "head",
    [
        "class Base(metaclass=lambda name, bases, ns: object):\n    pass",  # the nineteenth's class-meta
        "def meta(*a):\n    return object\n\n\nclass Base(metaclass=meta):\n    pass",
        "class M(type):\n    def __new__(m, *a):\n        return object\n\n\nclass Base(metaclass=M):\n    pass",
        "class M(type):\n    def __new__(m, *a):\n        return object\n\n\nX = type.__new__(M, 'X', (), {})\n\n\nclass Base(X):\n    pass",
        "class A:\n    def __class_getitem__(c, k):\n        return k\n\n\nclass Base(A[int]):\n    pass",
        "class Base(**{'metaclass': lambda *a: object}):\n    pass",
        "class Base(make()):\n    pass",
        "class P(metaclass=lambda *a: object):\n    pass\n\n\nclass Base(P):\n    pass",
    ],
)
def test_a_class_statement_that_may_bind_another_object_is_no_class_of_the_module(head: str) -> None:
    """`class Base(metaclass=lambda *a: object)` binds `Base` to `object`: walked from, it reaches every
    class. A metaclass, base or subscript the module could make return anything is not a class it
    defines."""
    assert "class-walk" in {kind for _, kind, _ in scan_source(head + WALK) or []}, head


@pytest.mark.parametrize(
    "head",
    [
        "class Base:\n    pass",
        "import abc\n\n\nclass Base(abc.ABC):\n    pass",
        "from abc import ABCMeta\n\n\nclass Base(metaclass=ABCMeta):\n    pass",
        "from typing import Generic, TypeVar\n\nT = TypeVar('T')\n\n\nclass Base(Generic[T]):\n    pass",
        "class Meta(type):\n    pass\n\n\nclass Base(metaclass=Meta):\n    pass",
        "class Base(Exception):\n    pass",
        "class Root:\n    pass\n\n\nclass Base(Root, order=1):\n    pass",
    ],
)
def test_a_registry_base_with_a_plain_metaclass_or_bases_stays_clean(head: str) -> None:
    assert scan_source(head + WALK) == [], head
