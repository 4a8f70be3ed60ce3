"""Import names and the distributions that provide them, where the tests' imports say what to install.

`KNOWN_TEST_IMPORTS`: test libraries a test file may import, installed when it does. `IMPORT_DISTS`: import
names whose distribution is named otherwise, for matching an import with a declared requirement and for
hints (`import jwt` is PyJWT: PyPI's `jwt` and `bs4` are other projects). `unguarded_imports`: the
modules a test needs, not merely tries; `importorskip_modules`: those its tests skip without.
"""

from __future__ import annotations

import ast
from pathlib import Path

from codekiln.core.pyast import parse_file

# Test libraries imported by test files -> the distribution that provides them.
KNOWN_TEST_IMPORTS = {
    "hypothesis": "hypothesis",
    "mock": "mock",
    "freezegun": "freezegun",
    "time_machine": "time-machine",
    "trio": "trio",
    "anyio": "anyio",
    "typing_extensions": "typing-extensions",
    "yaml": "PyYAML",
    "numpy": "numpy",
    "pympler": "Pympler",
    "cloudpickle": "cloudpickle",
    "responses": "responses",
    "requests_mock": "requests-mock",
    "testfixtures": "testfixtures",
    "parameterized": "parameterized",
    "attr": "attrs",
    "dateutil": "python-dateutil",
    "pytz": "pytz",
    "tzdata": "tzdata",
    "pytest_mock": "pytest-mock",
    "pyfakefs": "pyfakefs",
    "dirty_equals": "dirty-equals",
    "inline_snapshot": "inline-snapshot",
    "pexpect": "pexpect",
}
# Import names whose distribution is named otherwise (PyPI's `jwt` and `bs4` are other projects).
IMPORT_DISTS = {
    "jwt": "PyJWT",
    "bs4": "beautifulsoup4",
    "yaml": "PyYAML",
    "attr": "attrs",
    "dateutil": "python-dateutil",
    "PIL": "pillow",
    "OpenSSL": "pyOpenSSL",
    "Crypto": "pycryptodome",
    "nacl": "PyNaCl",
    "jose": "python-jose",
    "dotenv": "python-dotenv",
    "multipart": "python-multipart",
    "markdown_it": "markdown-it-py",
    "serial": "pyserial",
    "socks": "PySocks",
    "zmq": "pyzmq",
    "git": "GitPython",
    "dns": "dnspython",
    "sklearn": "scikit-learn",
    "pkg_resources": "setuptools",
    "grpc": "grpcio",
}


def unguarded_imports(files: list[Path]) -> set[str]:
    """Top-level names imported outside any `try:` body (one that fails without the module, at import or
    in the test that imports it; a `try: import x except ImportError` is the module being optional)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try):
            for child in (*node.handlers, *node.orelse, *node.finalbody):
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    for tree in filter(None, map(parse_file, files)):
        visit(tree)
    return names


def importorskip_modules(files: list[Path]) -> set[str]:
    """Top-level names the tests ask for with `pytest.importorskip("name")` (or a bare `importorskip`),
    a literal first argument: a feature the tests cover when its module is there, and skip without
    (testfixtures 12.4.0's YAML and TOML helpers: `pytest.importorskip('yaml')`)."""
    names: set[str] = set()
    for tree in filter(None, map(parse_file, files)):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) in ("pytest.importorskip", "importorskip")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names.add(node.args[0].value.split(".")[0])
    return names
