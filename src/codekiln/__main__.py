"""`python -m codekiln ...`: the `codekiln` command, for a venv whose scripts are not on PATH."""

from codekiln.cli import main

main()
