"""A WebSocket server with a browser page: many streams on one loaded model (`python -m speech_proactive.serve`).

protocol.py   the messages: a JSON start, PCM frames, a stop; JSON events back (docs/serve.md)
stream.py     one connection's state: its session, segmenter (voice gate, pauses) and block buffer
scheduler.py  the one model thread that steps every live stream, and the policies it has resolved
server.py     the asyncio server: the page at /, the WebSocket, limits, tokens, shutdown
static/       the page: plain HTML and JavaScript, no build step
"""
