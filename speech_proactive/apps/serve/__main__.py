"""python -m speech_proactive.serve --model BUNDLE [--host 127.0.0.1] [--port 8000] [--policy probe:q0.9]
                                    [--max-streams 16] [--token SECRET] [--no-batch]

Serve a bundle to many clients at once: open http://HOST:PORT/ for the page (microphone or a WAV file, words
as they come), or stream from any WebSocket client (protocol: docs/serve.md). Ctrl-C flushes every stream's
final words to its client, then stops. Exit codes: 0 stopped, 2 cannot start (bad bundle, policy, port in use).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from speech_proactive.model.bundle import BundleError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, required=True, help="bundle folder")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost only)")
    p.add_argument("--port", type=int, default=8000, help="0: any free port (printed)")
    p.add_argument("--policy", default="entropy:q0.9", help="default policy; a client may name another")
    p.add_argument("--max-streams", type=int, default=16, help="concurrent streams; the next client is refused")
    p.add_argument("--token", help="refuse clients that do not send ?token=TOKEN")
    batch_help = "step each stream alone (default: like steps of concurrent streams run as one forward)"
    p.add_argument("--no-batch", action="store_true", help=batch_help)
    return p


async def serve_until_stopped(args: argparse.Namespace) -> int:
    from speech_proactive.apps.serve.scheduler import ModelHost
    from speech_proactive.apps.serve.server import ServeConfig, Server

    try:
        host = ModelHost(args.model, args.policy, batch=not args.no_batch)
    except (BundleError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    server = Server(host, ServeConfig(args.host, args.port, args.max_streams, args.token))
    try:
        port = await server.start()
    except OSError as e:
        print(f"error: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 2
    print(f"serving {args.model} on http://{args.host}:{port}/ (Ctrl-C stops)", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    print(f"stopping: flushing {len(server.connections)} stream(s)", flush=True)
    await server.shutdown()
    host.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.max_streams < 1:
        parser().error("--max-streams must be >= 1")
    return asyncio.run(serve_until_stopped(args))


if __name__ == "__main__":
    sys.exit(main())
