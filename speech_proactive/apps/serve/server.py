"""The asyncio server: the page at /, one WebSocket endpoint (any path with an Upgrade), and the limits.

- `max_streams` live streams; the next client is refused with close code 1013 and the reason.
- Messages above `max_message_bytes` close the connection (1009, websockets' own check).
- A client that reads too slowly: its events queue up to `max_queued_events`, then it is closed (1008) with the
  reason; the model thread and the other streams never wait for it.
- A client whose audio waits more than `max_backlog_ms` for the model (the server is overloaded, or the client
  sends far faster than real time) is closed (1013) with the reason.
- With a token, a request without `?token=SECRET` is refused with HTTP 401 before any upgrade.
- A client that disconnects mid-utterance: its stream is dropped at once; nothing waits for it.
- Shutdown (`shutdown()`, SIGINT, SIGTERM): every stream's final words are flushed and sent, then 1001.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from speech_proactive import audio
from speech_proactive.apps.serve.protocol import ProtocolError, event, parse_json, parse_start, pcm_samples
from speech_proactive.apps.serve.scheduler import ModelHost
from speech_proactive.apps.serve.stream import Stream

STATIC_DIR = Path(__file__).parent / "static"
PAGES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js", "/capture.js": "capture.js"}
CLOSE_FULL, CLOSE_POLICY, CLOSE_GOING_AWAY = 1013, 1008, 1001


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"  # localhost only unless asked
    port: int = 8000
    max_streams: int = 16
    token: str | None = None
    max_message_bytes: int = 1 << 20  # 1 MiB: 32 s of 16 kHz PCM in one frame
    max_queued_events: int = 2000  # ~10 min of 320 ms status events: only a reader that has stopped hits it
    # audio received but not yet stepped (9.6 MB of PCM at 5 min): a file may be sent ahead of the model up to this;
    # beyond it the client is closed, rather than memory growing without bound when the server is overloaded
    max_backlog_ms: float = 300_000.0


def _parse_text(text: str) -> dict | ProtocolError:
    """A text message parsed once, as it arrives; a malformed one becomes the error the worker will report."""
    try:
        return parse_json(text)
    except ProtocolError as e:
        return e


SHUTDOWN = object()  # put in a connection's inbox: flush its stream and close with 1001


class Connection:
    """One client: what it sent and is not yet handled (the inbox), its stream (after a valid start), and the
    events waiting to be sent to it (the outbox).

    The client's messages are read as they arrive, whatever the model's pace, so that websockets sees every
    control frame (a pong queued behind unread audio would time the client out) and the backlog can be bounded
    with a clear reason; a worker task hands them to the model thread one by one.
    """

    def __init__(self, ws: ServerConnection, host: ModelHost, cfg: ServeConfig):
        self.ws, self.host, self.cfg = ws, host, cfg
        self.stream: Stream | None = None
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.backlog_samples = 0
        self.closing = False
        self.stopping = False  # a stop (or shutdown) is in the inbox: let the worker finish it
        self.sender: asyncio.Task | None = None
        self.worker: asyncio.Task | None = None

    async def run(self) -> None:
        self.sender = asyncio.create_task(self._send_all())
        self.worker = asyncio.create_task(self._work())
        try:
            async for message in self.ws:
                if not self._receive(message):
                    break
        except ConnectionClosed:
            pass
        finally:
            if self.stopping:
                await asyncio.wait([self.worker], timeout=60)
            self.worker.cancel()  # a client gone mid-utterance: its state is freed, nothing is flushed for it
            self.stream = None
            self.outbox.put_nowait(None)
            await asyncio.wait([self.sender], timeout=5)

    def _receive(self, message: str | bytes) -> bool:
        """Queue one message for the worker; False when the connection is being closed for overload."""
        if isinstance(message, bytes):
            self.backlog_samples += len(message) // 2
            if audio.samples_to_ms(self.backlog_samples) > self.cfg.max_backlog_ms:
                reason = f"server overloaded: more than {self.cfg.max_backlog_ms / 1000:g} s of audio waiting"
                asyncio.get_running_loop().create_task(self.ws.close(CLOSE_FULL, reason))
                return False
        else:
            message = _parse_text(message)
            self.stopping = self.stopping or (isinstance(message, dict) and message["type"] == "stop")
        self.inbox.put_nowait(message)
        return True

    async def _work(self) -> None:
        while (message := await self.inbox.get()) is not SHUTDOWN:
            handled = await self._handle(message)
            if isinstance(message, bytes):
                self.backlog_samples -= len(message) // 2
            if not handled:
                return
        await self.finish("shutdown")
        await self.close_after_sending(CLOSE_GOING_AWAY, "server shutting down")

    def emit(self, message: str) -> None:
        if self.closing:
            return
        if self.outbox.qsize() >= self.cfg.max_queued_events:
            self.closing = True
            reason = f"client too slow: {self.cfg.max_queued_events} events unread"
            asyncio.get_running_loop().create_task(self.ws.close(CLOSE_POLICY, reason))
            return
        self.outbox.put_nowait(message)

    async def _send_all(self) -> None:
        try:
            while (message := await self.outbox.get()) is not None:
                await self.ws.send(message)
        except ConnectionClosed:
            pass

    async def _handle(self, message: dict | bytes | ProtocolError) -> bool:
        """False once the stream is over."""
        try:
            if isinstance(message, ProtocolError):
                raise message
            if isinstance(message, bytes):
                return await self._audio(message)
            if message["type"] == "start":
                return await self._start(message)
            if message["type"] == "stop":
                await self.finish("end")
                await self.close_after_sending(1000, "done")
                return False
            raise ProtocolError(f"unknown message type {message['type']!r} (start or stop)")
        except ProtocolError as e:
            self.emit(event("error", message=str(e)))
            return True

    async def _start(self, message: dict) -> bool:
        if self.stream is not None:
            raise ProtocolError("already started: one start per connection")
        request = parse_start(message)
        try:
            self.stream = await self.host.run(self.host.new_stream, request)
        except ProtocolError as e:  # a pair or policy the bundle cannot serve: nothing to go on with
            self.emit(event("error", message=str(e)))
            await self.close_after_sending(CLOSE_POLICY, str(e)[:120])
            return False
        task = self.stream.segmenter.session.task
        self.emit(event("ready", task=task.task, src_lang=task.src_lang, tgt_lang=task.tgt_lang,
                        policy=request.policy or self.host.default_policy, vad=request.vad,
                        chunk_ms=self.stream.segmenter.session.chunk_ms))  # fmt: skip
        return True

    async def _audio(self, frame: bytes) -> bool:
        if self.stream is None:
            raise ProtocolError('audio before the start message: send {"type": "start", ...} first')
        stream = self.stream
        for message in await self.host.steps(stream.push_steps(pcm_samples(frame))):
            self.emit(message)
        return True

    async def close_after_sending(self, code: int, reason: str) -> None:
        """Send what is queued (the sender stops after it), then close."""
        self.outbox.put_nowait(None)
        if self.sender is not None:
            await asyncio.wait([self.sender], timeout=10)
        await self.ws.close(code, reason)

    async def finish(self, reason: str) -> None:
        """Flush the stream's last words and send its final event (once)."""
        stream, self.stream = self.stream, None
        if stream is not None:
            for message in await self.host.steps(stream.finish_steps(reason)):
                self.emit(message)


class Server:
    def __init__(self, host: ModelHost, cfg: ServeConfig = ServeConfig()):
        self.host, self.cfg = host, cfg
        self.connections: set[Connection] = set()
        self._server = None

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0)."""
        self._server = await serve(self._handler, self.cfg.host, self.cfg.port, process_request=self._http,
                                   max_size=self.cfg.max_message_bytes)  # fmt: skip
        return self._server.sockets[0].getsockname()[1]

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if self.cfg.token is not None:
            given = parse_qs(url.query).get("token", [""])[0]
            if not hmac.compare_digest(given.encode(), self.cfg.token.encode()):
                return connection.respond(401, "missing or wrong ?token=\n")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        if url.path == "/favicon.ico":
            return Response(204, "No Content", Headers([("Content-Length", "0")]), b"")
        if url.path == "/info":
            return self._json_response(self.host.info())
        if url.path not in PAGES:
            return connection.respond(404, f"no page {url.path}\n")
        path = STATIC_DIR / PAGES[url.path]
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        body = path.read_bytes()
        headers = Headers([("Content-Type", f"{kind}; charset=utf-8"), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store")])  # fmt: skip
        return Response(200, "OK", headers, body)

    @staticmethod
    def _json_response(data: dict) -> Response:
        body = json.dumps(data).encode()
        headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return Response(200, "OK", headers, body)

    async def _handler(self, ws: ServerConnection) -> None:
        if len(self.connections) >= self.cfg.max_streams:
            await ws.close(CLOSE_FULL, f"server full: {self.cfg.max_streams} streams (--max-streams)")
            return
        connection = Connection(ws, self.host, self.cfg)
        self.connections.add(connection)
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)

    async def shutdown(self) -> None:
        """Stop accepting, flush every stream's final words to its client, close them all."""
        self._server.close(close_connections=False)
        connections = list(self.connections)
        for connection in connections:  # after the audio already received
            connection.stopping = True
            connection.inbox.put_nowait(SHUTDOWN)
        workers = [c.worker for c in connections if c.worker is not None]
        if workers:
            await asyncio.wait(workers, timeout=60)
        await self._server.wait_closed()
