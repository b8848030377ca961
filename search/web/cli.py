"""CLI handlers: ``techscout serve``, ``techscout user add``, ``techscout token create``."""

from __future__ import annotations

import argparse
import getpass
import sys

from crawlers.errors import TechscoutError
from crawlers.settings import Settings
from search import users
from search.backends import open_backend


def cli_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from search.web.app import create_app

    app = create_app(settings)
    print(f"techscout web UI on http://{settings.host}:{settings.port}/", file=sys.stderr, flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=bool(getattr(args, "access_log", False)),
    )
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码: ")
    if getpass.getpass("再输入一次: ") != first:
        raise TechscoutError("两次输入的密码不一致")
    return first


def cli_user(args: argparse.Namespace, settings: Settings) -> int:
    backend = open_backend(settings)
    try:
        if args.action == "add":
            user = users.add_user(backend, args.name, _read_password(args), args.role)
            print(f"user {user['name']} ({user['role']}) saved")
        elif args.action == "delete":
            if not backend.delete_record("users", args.name):
                print(f"no user {args.name!r}", file=sys.stderr)
                return 1
            print(f"user {args.name} deleted")
    finally:
        backend.close()
    return 0


def cli_token(args: argparse.Namespace, settings: Settings) -> int:
    backend = open_backend(settings)
    try:
        if args.action == "create":
            print(users.create_token(backend, args.name, args.role))
        elif args.action == "revoke":
            n = users.revoke_token(backend, args.name)
            print(f"{n} token(s) named {args.name} revoked", file=sys.stderr)
            return 0 if n else 1
    finally:
        backend.close()
    return 0
