"""`python -m speech_proactive.train`: train a model from a recipe config (the code is in training/loop)."""

import sys

from speech_proactive.training.loop import main

if __name__ == "__main__":
    sys.exit(main())
