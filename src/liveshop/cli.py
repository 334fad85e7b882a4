"""``liveshop`` command line: serve, create-admin, seed-demo, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from liveshop.config import ConfigError, Settings, resolve_secret_key
from liveshop.datadir import secure_data_dir
from liveshop.logformat import uvicorn_log_config
from liveshop.storage.engine import Database
from liveshop.storage.migrate import upgrade_sync


def _settings() -> Settings:
    try:
        settings = Settings()
    except Exception as exc:  # pydantic reports which variable is wrong
        raise SystemExit(f"configuration error: {exc}") from exc
    secure_data_dir(settings)
    return settings


async def _first_run(settings: Settings, demo: bool) -> None:
    from liveshop.demo import ensure_admin, seed_demo

    db = Database(settings.effective_database_url)
    try:
        created = await ensure_admin(db, settings.data_dir)
        if created:
            email, password = created
            path = settings.data_dir / "admin-credentials.txt"
            print("\n  First run: created the seller (admin) account")
            print(f"    e-mail:   {email}")
            print(f"    password: {password}")
            print(f"    (kept in {path}, readable only by you)\n")
        if demo:
            added = await seed_demo(db)
            if added:
                print(f"  Added a demo catalogue of {added} products.")
    finally:
        await db.close()


def check_tls_files(certfile: Path | None, keyfile: Path | None) -> str | None:
    """Why the TLS options cannot be used, or None (both given and readable, or neither)."""
    if bool(certfile) != bool(keyfile):
        return "--ssl-certfile and --ssl-keyfile (LIVESHOP_SSL_CERTFILE/KEYFILE) go together"
    for path in (certfile, keyfile):
        if path is not None and not path.is_file():
            return f"{path}: no such file"
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    try:
        resolve_secret_key(settings)
    except ConfigError as exc:
        print(f"liveshop: {exc}", file=sys.stderr)
        return 2
    if args.workers > 1 and not settings.redis_url:
        print(
            "liveshop: --workers > 1 needs LIVESHOP_REDIS_URL (processes share events through Redis)",
            file=sys.stderr,
        )
        return 2
    certfile = args.ssl_certfile or settings.ssl_certfile
    keyfile = args.ssl_keyfile or settings.ssl_keyfile
    tls_error = check_tls_files(certfile, keyfile)
    if tls_error:
        print(f"liveshop: {tls_error}", file=sys.stderr)
        return 2
    upgrade_sync(settings.effective_database_url)
    asyncio.run(_first_run(settings, args.demo))
    scheme = "https" if certfile else "http"
    base = f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    print(f"  Studio (sellers): {base}/studio")
    print(f"  Watch page:       {base}/")
    print(f"  API docs:         {base}/docs\n", flush=True)
    if settings.metrics_port or settings.metrics_token:
        # before anything imports prometheus_client (liveshop.metrics does: importing it here
        # would leave this process's own figures out of the files): every process writes there
        prepare_metrics_dir(settings.data_dir / "metrics")
    from liveshop.app import UVICORN_OPTIONS

    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": args.log_level,
        "access_log": not args.no_access_log,
        "log_config": uvicorn_log_config(settings.log_format, args.log_level),
        **UVICORN_OPTIONS,
    }
    if certfile:
        common |= {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
    if common["log_config"] is None:
        del common["log_config"]  # uvicorn's own default
    if settings.metrics_port:
        from liveshop.metrics import serve_port

        serve_port(settings.metrics_host, settings.metrics_port)
        print(f"  Metrics:          http://{settings.metrics_host}:{settings.metrics_port}/metrics")
    if args.workers > 1:
        # SIGHUP (systemctl reload) replaces each worker in turn once its successor is ready;
        # a cold start on a busy machine takes longer than uvicorn's default 5 s
        common["timeout_worker_healthcheck"] = 60
        os.environ["LIVESHOP_SKIP_MIGRATIONS"] = "1"
        uvicorn.run("liveshop.app:create_worker_app", factory=True, workers=args.workers, **common)
    else:
        from liveshop.app import create_app

        uvicorn.run(create_app(settings, migrate=False), **common)
    return 0


def prepare_metrics_dir(directory: Path) -> None:
    """Start ``serve``'s Prometheus figures afresh in ``directory`` and point every process of
    this command at it (prometheus-client reads the variable when it is first imported)."""
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def cmd_create_admin(args: argparse.Namespace) -> int:
    """``create-admin`` and ``create-moderator``: an account of ``args.role``."""
    from liveshop.security import hash_password
    from liveshop.storage import users
    from liveshop.storage.errors import Conflict

    password = args.password
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if getpass.getpass("Again: ") != password:
                print("liveshop: passwords differ", file=sys.stderr)
                return 2
        else:
            password = os.environ.get("LIVESHOP_ADMIN_PASSWORD", "")
    if len(password) < 8:
        print(
            "liveshop: the password needs at least 8 characters "
            "(--password, the prompt, or LIVESHOP_ADMIN_PASSWORD)",
            file=sys.stderr,
        )
        return 2
    settings = _settings()
    upgrade_sync(settings.effective_database_url)

    async def create() -> int:
        db = Database(settings.effective_database_url)
        try:
            password_hash = await hash_password(password)
            async with db.session() as session:
                await users.create_user(
                    session,
                    email=args.email,
                    name=args.name,
                    role=args.role,
                    password_hash=password_hash,
                )
        except Conflict:
            print(f"liveshop: {args.email} is already registered", file=sys.stderr)
            return 1
        finally:
            await db.close()
        print(f"created {args.role} {args.email}")
        return 0

    return asyncio.run(create())


def cmd_token(args: argparse.Namespace) -> int:
    """Print an access token for an existing account (e.g. OBS's WHIP bearer token), or with
    ``revoke``, invalidate every token the account holds (on every process, at once)."""
    from liveshop.domain.identity import Identity
    from liveshop.security import TokenService
    from liveshop.storage import users

    settings = _settings()
    try:
        key = resolve_secret_key(settings)
    except ConfigError as exc:
        print(f"liveshop: {exc}", file=sys.stderr)
        return 2
    upgrade_sync(settings.effective_database_url)

    async def find() -> Any:
        db = Database(settings.effective_database_url)
        try:
            async with db.session() as session:
                user = await users.get_by_email(session, args.email)
                if user is not None and args.action == "revoke":
                    await users.revoke_tokens(session, user)
                return user
        finally:
            await db.close()

    user = asyncio.run(find())
    if user is None:
        print(f"liveshop: no account {args.email}", file=sys.stderr)
        return 1
    if args.action == "revoke":
        print(f"revoked every token of {args.email}")
        return 0
    tokens = TokenService(key, ttl_seconds=1, guest_ttl_seconds=1)
    identity = Identity(
        id=user.id, name=user.name, role=user.role, email=user.email, version=user.token_version
    )
    print(tokens.issue(identity, ttl_seconds=args.days * 86400))
    return 0


def cmd_seed_demo(_: argparse.Namespace) -> int:
    from liveshop.demo import seed_demo

    settings = _settings()
    upgrade_sync(settings.effective_database_url)

    async def seed() -> int:
        db = Database(settings.effective_database_url)
        try:
            return await seed_demo(db)
        finally:
            await db.close()

    added = asyncio.run(seed())
    print(f"added {added} demo products" if added else "catalogue not empty: nothing added")
    return 0


def cmd_db_upgrade(_: argparse.Namespace) -> int:
    settings = _settings()
    upgrade_sync(settings.effective_database_url)
    print("database is up to date")
    return 0


def _age(text: str) -> float:
    """``30d``, ``12h``, ``90m`` or ``45s`` → seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise argparse.ArgumentTypeError("use a number and a unit: 30d, 12h, 90m, 45s")
    return int(text[:-1]) * units[text[-1]]


def cmd_recordings_prune(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from liveshop.replay.prune import prune

    settings = _settings()
    upgrade_sync(settings.effective_database_url)

    async def run() -> list[int]:
        db = Database(settings.effective_database_url)
        try:
            return await prune(
                db,
                settings.effective_media_dir,
                timedelta(seconds=args.older_than),
                dry_run=args.dry_run,
            )
        finally:
            await db.close()

    ids = asyncio.run(run())
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"{verb} the recordings of {len(ids)} show(s){': ' if ids else ''}{', '.join(map(str, ids))}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liveshop", description="Live video shopping server")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, create the first admin, and serve")
    serve.add_argument("--host", default=None, help="default LIVESHOP_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default LIVESHOP_PORT or 8000")
    serve.add_argument("--workers", type=int, default=1, help="processes (needs Redis when > 1)")
    serve.add_argument("--demo", action="store_true", help="add the demo catalogue when empty")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--no-access-log", action="store_true", help="do not log each request")
    serve.add_argument(
        "--ssl-certfile",
        type=Path,
        default=None,
        help="serve HTTPS (default LIVESHOP_SSL_CERTFILE)",
    )
    serve.add_argument(
        "--ssl-keyfile", type=Path, default=None, help="its private key (LIVESHOP_SSL_KEYFILE)"
    )
    serve.set_defaults(func=cmd_serve)

    admin = sub.add_parser("create-admin", help="create a seller (admin) account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", default=None, help="prompted when absent")
    admin.add_argument("--name", default="Seller")
    admin.set_defaults(func=cmd_create_admin, role="admin")

    moderator = sub.add_parser(
        "create-moderator", help="create a moderator (deletes messages, bans; nothing else)"
    )
    moderator.add_argument("--email", required=True)
    moderator.add_argument("--password", default=None, help="prompted when absent")
    moderator.add_argument("--name", default="Moderator")
    moderator.set_defaults(func=cmd_create_admin, role="moderator")

    token = sub.add_parser(
        "token", help="print an access token for an account, or `token revoke` all of its tokens"
    )
    token.add_argument("action", nargs="?", choices=["revoke"], help="revoke every token")
    token.add_argument("--email", required=True)
    token.add_argument("--days", type=int, default=30, help="validity (default 30 days)")
    token.set_defaults(func=cmd_token)

    seed = sub.add_parser("seed-demo", help="add the demo catalogue when the catalogue is empty")
    seed.set_defaults(func=cmd_seed_demo)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations")
    up.set_defaults(func=cmd_db_upgrade)
    rec = sub.add_parser("recordings", help="kept recordings")
    rec_sub = rec.add_subparsers(dest="recordings_command", required=True)
    prune_cmd = rec_sub.add_parser("prune", help="delete the files of shows that ended long ago")
    prune_cmd.add_argument("--older-than", type=_age, required=True, help="e.g. 30d")
    prune_cmd.add_argument("--dry-run", action="store_true", help="only list what would go")
    prune_cmd.set_defaults(func=cmd_recordings_prune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
