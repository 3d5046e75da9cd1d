"""`python -m speech_proactive.translate`: translate or transcribe audio files (the code is in apps/translate)."""

import sys

from speech_proactive.apps.translate import main

if __name__ == "__main__":
    sys.exit(main())
