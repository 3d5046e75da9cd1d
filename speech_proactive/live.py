"""`python -m speech_proactive.live`: the live demo (the code is in apps/live/__main__)."""

import sys

from speech_proactive.apps.live.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
