"""``vigil review ...``: users and tokens for the review service, and running it."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

review_app = typer.Typer(help="The review service: users, tokens, serving.", no_args_is_help=True)


def _run(coro_factory):  # type: ignore[no-untyped-def]
    from redis.asyncio import Redis

    from pipeline.local.stack import settings_with_stack

    async def main():  # type: ignore[no-untyped-def]
        redis = Redis.from_url(settings_with_stack().redis_url)
        try:
            return await coro_factory(redis)
        finally:
            await redis.aclose()

    return asyncio.run(main())


@review_app.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, _ . @ -).")],
    role: Annotated[str, typer.Option(help="analyst, lead, engineer or service.")] = "analyst",
    rotate: Annotated[bool, typer.Option(help="Issue a new token for an existing user.")] = False,
    event_types: Annotated[str | None, typer.Option(
        help="Service tokens: the event types it may publish, comma-separated (default *: every "
             "type but the restricted ones; consent.changed must be named).")] = None,
    producers: Annotated[str | None, typer.Option(
        help="Service tokens: the producer names its events may carry (default *: any).")] = None,
) -> None:
    """Create a user and print their API token once (only its SHA-256 is stored)."""
    from pipeline.review.web.auth import AuthError, UserStore

    types = event_types.split(",") if event_types is not None else None
    makers = producers.split(",") if producers is not None else None
    try:
        token = _run(lambda redis: UserStore(redis).add_user(
            name, role, rotate=rotate, event_types=types, producers=makers))
    except AuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{name} ({role}) token, shown once; keep it secret:", err=True)
    typer.echo(token)


@review_app.command("users")
def users() -> None:
    """List users and roles, and what each service token may publish."""
    from pipeline.review.web.auth import UserStore

    for user in _run(lambda redis: UserStore(redis).users()):
        line = f"{user['name']}\t{user['role']}"
        if user["role"] == "service":
            line += f"\tevent types: {user['event_types']}\tproducers: {user['producers']}"
        typer.echo(line)


@review_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument()]) -> None:
    """Delete a user: their token and console sessions stop working."""
    from pipeline.review.web.auth import UserStore

    if not _run(lambda redis: UserStore(redis).revoke(name)):
        typer.echo(f"error: no user {name}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name}")


@review_app.command("serve")
def serve() -> None:
    """Run the review service in the foreground (as ``python -m pipeline.review``)."""
    from pipeline.local.stack import settings_with_stack
    from pipeline.review.web.serve import serve
    from pipeline.settings import ReviewSettings

    serve(settings_with_stack(), ReviewSettings.from_env())
