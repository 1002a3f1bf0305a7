"""``zhishiyun-server``: serve the API, seed demo data, administer, dump the OpenAPI."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

EPILOG = """\
subcommands:
  zhishiyun-server admin --help      manage candidates, exams, papers, releases, messages
  zhishiyun-server openapi [--write] print (or store) the OpenAPI document

test hooks (environment variables read at start-up):
  ZHISHIYUN_SERVER_CLOCK_OFFSET       seconds added to the server's clock (float, may be < 0)
  ZHISHIYUN_DEMO_INTERVIEW_DELAY_S    demo interview entry opens this long after start-up (300)
  ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S demo written exam starts this long after start-up (120);
                                      its entry window is open from start-up
  ZHISHIYUN_SERVER_DATA               default data directory
  ZHISHIYUN_SERVER_STORAGE            default --storage (a directory or s3://bucket/prefix)
"""

OPENAPI_FILE = Path(__file__).resolve().parent / "openapi.json"


def proxies_option(text: str) -> str:
    """Checked ``--forwarded-allow-ips`` (see :mod:`zhishiyun_server.clientaddr`)."""
    from zhishiyun_server.clientaddr import proxies_option as check

    return check(text)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", default=None,
                        help="database URL (default: sqlite:///DATA/server.db); "
                             "PostgreSQL: postgresql://user:pass@host/db")
    parser.add_argument("--data", metavar="DIR", type=Path, default=None,
                        help="data directory (database, uploaded recordings)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (serve options at the top level, subcommands beside them)."""
    from zhishiyun_server.settings import default_storage

    parser = argparse.ArgumentParser(
        prog="zhishiyun-server", description="Zhishiyun reference exam server.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8400, help="port (8400)")
    parser.add_argument("--demo", action="store_true",
                        help="seed demo data into an empty database and print the demo people")
    parser.add_argument("--public-url", metavar="URL", default="",
                        help="the address clients use, when behind a reverse proxy "
                             "(e.g. https://exam.example.cn); default: from each request")
    parser.add_argument("--forwarded-allow-ips", metavar="IPS", default="",
                        type=proxies_option,
                        help="reverse proxies whose X-Forwarded-For names the client "
                             "(comma-separated addresses or networks); default: none, the "
                             "TCP peer is the client")
    parser.add_argument("--storage", metavar="DIR|s3://BUCKET/PREFIX",
                        default=default_storage(),
                        help="where uploaded recordings live (default: DATA/uploads); "
                             "s3://… takes endpoint and keys from AWS_ENDPOINT_URL, "
                             "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="server processes on this machine (1); any number of processes "
                             "and machines may share one PostgreSQL and one storage")
    parser.add_argument("--ssl-certfile", metavar="PEM", help="serve HTTPS with this certificate")
    parser.add_argument("--ssl-keyfile", metavar="PEM", help="private key of --ssl-certfile")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"))
    sub = parser.add_subparsers(dest="command", metavar="{admin,openapi}")
    admin = sub.add_parser("admin", help="administer candidates, exams, releases, messages")
    _common(admin)
    from zhishiyun_server.admin import add_commands

    add_commands(admin)
    openapi = sub.add_parser("openapi", help="print the OpenAPI document")
    openapi.add_argument("--write", action="store_true",
                         help=f"write it to {OPENAPI_FILE.name} in the package")
    return parser


def openapi_document() -> dict:
    """The app's OpenAPI document (built without touching any database)."""
    from zhishiyun_server.app import create_app
    from zhishiyun_server.settings import ServerConfig

    config = ServerConfig(db_url="sqlite://", data_dir=Path("."), migrate=False)
    return create_app(config).openapi()


def dump_openapi(document: dict) -> str:
    """Stable text form of the OpenAPI document."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for the message
        return "(unreadable URL)"


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from zhishiyun_server.app import create_app
    from zhishiyun_server.http_limits import uvicorn_protocol_options
    from zhishiyun_server.settings import ServerConfig, SettingsError, default_data_dir

    os.umask(0o077)  # every file this server writes (uploads, database) is the owner's only
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        print("error: --ssl-certfile and --ssl-keyfile go together", file=sys.stderr)
        return 2
    try:
        config = ServerConfig.from_env(data_dir=args.data or default_data_dir(), db_url=args.db,
                                       host=args.host, port=args.port, demo=args.demo,
                                       public_url=args.public_url.rstrip("/"),
                                       forwarded_allow_ips=args.forwarded_allow_ips,
                                       storage=args.storage, workers=max(1, args.workers))
        app = create_app(config)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        print(f"error: cannot open the database {_safe_url(config.db_url)}: "
              f"{str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    if args.demo:
        from zhishiyun_server.demo import describe, seed_if_empty

        seeded = seed_if_empty(app.state.session_factory, config)
        scheme = "https" if args.ssl_certfile else "http"
        print(describe(seeded, config.public_url or f"{scheme}://{args.host}:{args.port}"),
              flush=True)
    if config.workers > 1:  # migrated and seeded above, once; each worker builds its app
        app.state.engine.dispose()
        config.publish_for_workers()
        app = "zhishiyun_server.cli:worker_app"
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                workers=config.workers if config.workers > 1 else None,
                factory=config.workers > 1,
                access_log=args.log_level == "debug", ssl_certfile=args.ssl_certfile,
                ssl_keyfile=args.ssl_keyfile, proxy_headers=False, **uvicorn_protocol_options())
    return 0


def worker_app():
    """The app of one ``--workers`` process (uvicorn calls this factory in each worker)."""
    from zhishiyun_server.app import create_app
    from zhishiyun_server.settings import worker_config

    return create_app(worker_config())


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``zhishiyun-server``."""
    args = build_parser().parse_args(argv)
    if args.command == "openapi":
        text = dump_openapi(openapi_document())
        if args.write:
            OPENAPI_FILE.write_text(text, encoding="utf-8")
            print(f"wrote {OPENAPI_FILE}")
        else:
            sys.stdout.write(text)
        return 0
    if args.command == "admin":
        from zhishiyun_server.admin import run

        return run(args)
    return _serve(args)
