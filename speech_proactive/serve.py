"""`python -m speech_proactive.serve`: the WebSocket server and its page (the code is in apps/serve/)."""

import sys

from speech_proactive.apps.serve.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
