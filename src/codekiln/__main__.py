"""`python -m codekiln ...`: the `codekiln` command, for a checkout run without its console script."""

from codekiln.cli import main

if __name__ == "__main__":
    main()
