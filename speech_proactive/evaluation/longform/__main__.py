import sys

from speech_proactive.evaluation.longform.run import main

sys.exit(main())
