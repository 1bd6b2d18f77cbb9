"""Run the stand-in in the foreground: `python -m tests.standin [--port N] [--job-seconds S]`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .server import StandIn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.standin", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--job-seconds", type=float, default=1.0, help="how long a job runs")
    parser.add_argument("--large", action="store_true", help="serve the ~100k-triangle GLB")
    parser.add_argument("--redirect", action="store_true", help="asset URLs answer 302 first")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--api-secret", default="test-secret")
    args = parser.parse_args(argv)
    standin = StandIn(
        api_key=args.api_key,
        api_secret=args.api_secret,
        job_seconds=args.job_seconds,
        large_glb=args.large,
        latency=args.latency,
        port=args.port,
        redirect_downloads=args.redirect,
    ).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(
        json.dumps(
            {
                "base_url": standin.base_url,
                "root_url": standin.root_url,
                "api_key": standin.api_key,
                "api_secret": standin.api_secret,
            }
        ),
        flush=True,
    )
    try:
        done.wait()
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
