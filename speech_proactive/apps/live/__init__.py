"""Live demo: `python -m speech_proactive.live`, from a microphone or a file played in real time.

    capture thread (microphone callback, or file player) -> bounded queue -> model thread -> displays

One file per job: blocks.py (the block type and the queue that drops and counts rather than block the
capture), microphone.py and file_source.py (the two sources), convert.py (any rate and channels -> 16 kHz
mono), vad.py (energy gate), segmenter.py (pauses and maximum length end a segment: flush, reset; why, and
what it costs, is written there), runner.py (the model thread), events.py (what it reports), display.py
(terminal, plain lines, JSON lines), recorder.py (--save-audio), app.py (threads and Ctrl-C), __main__.py (CLI).
"""
