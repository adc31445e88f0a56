"""`python -m ivr`: the `hotline` command (ivr.cli)."""

import sys

from ivr.cli import main

if __name__ == "__main__":
    sys.exit(main())
