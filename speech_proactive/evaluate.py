"""`python -m speech_proactive.evaluate`: sweep policies over test sets and score them (code: evaluation/evaluate)."""

import sys

from speech_proactive.evaluation.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
