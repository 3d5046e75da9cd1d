"""`python -m speech_proactive.bench`: the command line lives in cli.py, so that nothing imports this module."""

import sys

from speech_proactive.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
