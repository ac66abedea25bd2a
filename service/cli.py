"""The `gradient-service` command: `serve` the app, or write its `openapi` spec."""

import argparse
import json
import os
import sys
from collections.abc import Sequence


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "service.app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
    )
    return 0


def openapi(args: argparse.Namespace) -> int:
    from service.app import create_app
    from service.config import Settings

    app = create_app(Settings(api_key=None))  # the published spec is the one without a key
    text = json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gradient-service", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve the HTTP API with uvicorn")
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"), help="env HOST")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="env PORT")
    p.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WORKERS", "1")),
        help="processes, one per core (env WORKERS)",
    )
    p.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"), help="env LOG_LEVEL")
    p.set_defaults(run=serve)

    p = commands.add_parser("openapi", help="write the OpenAPI spec generated from the app")
    p.add_argument("output", nargs="?", default="-", help="a file, or - for stdout (default)")
    p.set_defaults(run=openapi)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
