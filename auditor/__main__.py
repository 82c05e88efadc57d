"""`python -m auditor` runs the `audit` command."""

import sys

from auditor.cli import main

if __name__ == "__main__":  # worker processes (--jobs) import this module without running the command
    sys.exit(main())
