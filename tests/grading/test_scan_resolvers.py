"""Library code that resolves a dotted name computed at run time imports what the name names, as
`importlib.import_module` of a computed name does (`dynamic-import`): the nineteenth red team's
`env-module` took the test module pytest's `PYTEST_CURRENT_TEST` names by
`unittest.mock.patch(stem + ".__name__").getter()` and read its classes' tables through `vars()`."""

from __future__ import annotations

import pytest

from codekiln.grading.scan import scan_source


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("from unittest import mock\nm = mock.patch(stem + '.__name__').getter()", "unittest.mock.patch"),
        ("import unittest.mock\nunittest.mock.patch.dict(name, {})", "unittest.mock.patch.dict"),
        ("from unittest.mock import patch as p\nm = p(n).getter()", "unittest.mock.patch"),
        ("from unittest import mock\nm = mock._importer(name)", "unittest.mock._importer"),
        ("from unittest import mock\nf = mock.patch", "unittest.mock.patch taken as a value"),
        ("import pkgutil\nm = pkgutil.resolve_name(name)", "pkgutil.resolve_name"),
        ("import pkgutil\nm = pkgutil.get_loader(name)", "pkgutil.get_loader"),
        ("import logging.config\nm = logging.config._resolve(name)", "logging.config._resolve"),
        ("import logging.config\nlogging.config.BaseConfigurator({}).resolve(n)", "logging.config.BaseConfigurator"),
        ("from logging.config import DictConfigurator", "logging.config.DictConfigurator"),
        ("import logging.config\nlogging.config.dictConfig(conf)", "logging.config.dictConfig"),
        ("import unittest\nunittest.defaultTestLoader.loadTestsFromName(n)", "unittest.defaultTestLoader"),
        ("import doctest\ndoctest.unittest.TestLoader().loadTestsFromName(n)", "unittest.TestLoader"),
        ("import unittest\nunittest.main(module=name, exit=False)", "unittest.main"),
        ("import unittest.mock\nunittest.mock.patch(**where)", "unittest.mock.patch"),
    ],
)  # fmt: skip
def test_a_computed_name_resolved_is_a_dynamic_import(source: str, detail: str) -> None:
    assert ("dynamic-import", detail) in [(k, d) for _, k, d in scan_source(source) or []], scan_source(
        source
    )


@pytest.mark.parametrize(
    "source",
    [
        "from unittest import mock\nwith mock.patch('os.getcwd', return_value='/'):\n    pass",
        "import pkgutil\nf = pkgutil.resolve_name('os.path:join')",
        "import logging.config\nlogging.config.dictConfig({'version': 1, 'disable_existing_loggers': False})",
        "from unittest import mock\nm = mock.Mock(name=name)",
        "from unittest import mock\nwith mock.patch('os.getcwd', fake):\n    pass",
        "import unittest\nif __name__ == '__main__':\n    unittest.main()",
        "import importlib.util\nok = importlib.util.find_spec(name) is not None",  # asks, loads nothing new
    ],
)
def test_a_written_out_name_or_no_resolver_is_no_finding(source: str) -> None:
    assert scan_source(source) == [], source
