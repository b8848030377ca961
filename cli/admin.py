"""Administration: ``serve``, ``user``, ``token``, ``migrate``, ``reindex``."""

from __future__ import annotations

import argparse
import getpass
import sys

from core.errors import BackendError, TechscoutError
from core.settings import Settings
from search import users
from search.backends import open_backend
from search.backends.base import Backend
from search.migrate import migrate


def _open_target(args: argparse.Namespace, settings: Settings) -> tuple[Backend, str]:
    if args.to in ("elasticsearch", "opensearch"):
        from search.backends.elastic import ElasticBackend

        url = args.url or settings.elasticsearch_url
        if not url:
            raise BackendError(f"migrate --to {args.to} needs --url (or the elasticsearch_url setting)")
        prefix = args.prefix or settings.elasticsearch_prefix
        return ElasticBackend(url, prefix=prefix, product=args.to), f"{url}/{prefix}"
    from search.backends.embedded import EmbeddedBackend

    if not args.path:
        raise BackendError("migrate --to embedded needs --path FILE (the new SQLite file)")
    return EmbeddedBackend(args.path), str(args.path)


def cli_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """``techscout migrate --to opensearch|elasticsearch --url URL``: copy the embedded store, resumably, and
    verify the counts."""
    from search.backends.embedded import EmbeddedBackend

    source = EmbeddedBackend(settings.paths.store)
    target, location = _open_target(args, settings)
    try:
        report = migrate(
            source,
            target,
            location=location,
            batch_size=args.batch,
            restart=args.restart,
            progress=None if args.quiet else (lambda m: print(m, file=sys.stderr)),
        )
    finally:
        target.close()
        source.close()
    print(f"{'what':<24} {'source':>10} {'target':>10}")
    for key, n in report.source_counts.items():
        print(f"{key:<24} {n:>10} {report.target_counts.get(key, 0):>10}")
    if not report.ok:
        print("techscout: migration incomplete: " + ", ".join(report.mismatches), file=sys.stderr)
        return 1
    return 0


def cli_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """``techscout reindex``: rebuild the full-text index (embedded) or copy into a new versioned index and move
    the alias (server); an index of an older layout is reindexed without being opened first."""
    if settings.backend in ("elasticsearch", "opensearch"):
        from search.backends.elastic import ElasticBackend

        backend: Backend = ElasticBackend.for_reindex(settings)
    else:
        from search.backends.embedded import EmbeddedBackend

        backend = EmbeddedBackend(settings.paths.store, check_tokenizer=False)
    try:
        print(backend.reindex())
    finally:
        backend.close()
    return 0


def cli_serve(args: argparse.Namespace, settings: Settings) -> int:
    from search.web.server import serve, url_of

    print(f"techscout web UI on {url_of(settings)}", file=sys.stderr, flush=True)
    serve(settings, access_log=bool(getattr(args, "access_log", False)))
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
