"""Users, roles, API tokens and console sessions.

* A token is ``vgl_`` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored; a lookup
  finds the user by that digest and compares the stored digest in constant time. It is shown once,
  by ``vigil review add-user``. A service token also carries what it may publish
  (:class:`~pipeline.review.web.scopes.PublishScope`).
* Rotating or revoking a token keeps its digest in ``auth:retired`` (digest -> user), so a login
  with a retired token is audited and throttled against its user.
* The console exchanges a token for a session: a random id kept in Redis (under its SHA-256, with
  an expiry) and sent as an HMAC-signed, HttpOnly, SameSite=Strict cookie (Secure over https). Each
  session has its own CSRF token, which every console form carries and every POST checks. A
  session is bound to the token it was made with: once that token is rotated or revoked, the
  session is no more (checked on every request).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from pipeline.review.web.scopes import PublishScope, ScopeError

K = "vigil:"
ROLES = ("analyst", "lead", "engineer", "service")
#: What each permission needs. Engineers read cases with personal data masked.
PERMISSIONS: dict[str, frozenset[str]] = {
    "read_cases": frozenset({"analyst", "lead", "engineer"}),
    "work_cases": frozenset({"analyst", "lead"}),
    "lead": frozenset({"lead"}),
    "publish": frozenset({"service"}),
}
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
TOKEN_PREFIX = "vgl_"


class AuthError(ValueError):
    """A user or token request that cannot be done (bad name, unknown role, existing user)."""


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    #: What a service token may publish (unused for other roles).
    scope: PublishScope = field(default=PublishScope(), compare=False)
    #: The SHA-256 of the token this principal authenticated with ("" when looked up by name).
    credential: str = field(default="", compare=False, repr=False)

    @classmethod
    def from_record(cls, record: dict[str, Any], credential: str = "") -> Principal:
        return cls(record["name"], record["role"], PublishScope.from_record(record), credential)

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"

    @property
    def masked(self) -> bool:
        """Engineers see personal data masked."""
        return self.role == "engineer"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add_user(self, name: str, role: str, *, rotate: bool = False,
                       event_types: Sequence[str] | None = None,
                       producers: Sequence[str] | None = None) -> str:
        """Create ``name`` with ``role`` (or give an existing user a new token with ``rotate``);
        returns the token, which is not stored anywhere. A service token may publish
        ``event_types`` as ``producers`` (default ``*``: every unrestricted type, any producer;
        a rotated token keeps its scope unless new one is given)."""
        if not NAME_RE.match(name):
            raise AuthError(f"user name {name!r} must be 1-64 letters, digits, '_', '.', '@' or '-'")
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if role != "service" and (event_types or producers):
            raise AuthError("--event-types and --producers scope service tokens only")
        try:
            scope = PublishScope.parse(event_types, producers)
        except ScopeError as exc:
            raise AuthError(str(exc)) from None
        existing = await self.record(name)
        if existing and not rotate:
            raise AuthError(f"user {name} exists; pass --rotate to issue a new token")
        if existing and existing["role"] == role and event_types is None and producers is None:
            scope = PublishScope.from_record(existing)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_digest(token)
        record = {"name": name, "role": role, "token_sha256": digest, "created_at": time.time()}
        if role == "service":
            record.update(scope.to_record())
        pipe = self.redis.pipeline(transaction=True)
        if existing:
            self._retire(pipe, existing)
        pipe.hset(K + "auth:tokens", digest, name)
        pipe.hset(K + "auth:users", name, json.dumps(record))
        await pipe.execute()
        return token

    @staticmethod
    def _retire(pipe: Any, record: dict[str, Any]) -> None:
        pipe.hdel(K + "auth:tokens", record["token_sha256"])
        pipe.hset(K + "auth:retired", record["token_sha256"], record["name"])

    async def revoke(self, name: str) -> bool:
        existing = await self.record(name)
        if not existing:
            return False
        pipe = self.redis.pipeline(transaction=True)
        self._retire(pipe, existing)
        pipe.hdel(K + "auth:users", name)
        await pipe.execute()
        return True

    async def record(self, name: str) -> dict[str, Any] | None:
        """The stored user record (with the token's digest), or ``None``."""
        raw = await self.redis.hget(K + "auth:users", name)
        return json.loads(raw) if raw else None

    async def retired_owner(self, token: str | None) -> str | None:
        """Whose rotated or revoked token ``token`` was, if it was one."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        owner = await self.redis.hget(K + "auth:retired", token_digest(token))
        return owner.decode() if isinstance(owner, bytes) else owner

    async def get(self, name: str) -> Principal | None:
        record = await self.record(name)
        return Principal.from_record(record) if record else None

    async def users(self) -> list[dict[str, Any]]:
        """Every user: name, role, created_at, and a service token's scope as text."""
        raw = await self.redis.hgetall(K + "auth:users")
        out = []
        for record in (json.loads(v) for v in raw.values()):
            user = {"name": record["name"], "role": record["role"],
                    "created_at": record["created_at"]}
            if record["role"] == "service":
                scope = PublishScope.from_record(record)
                user.update(event_types=scope.describe_types(),
                            producers=scope.describe_producers())
            out.append(user)
        return sorted(out, key=lambda u: u["name"])

    async def authenticate(self, token: str | None) -> Principal | None:
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_digest(token)
        name = await self.redis.hget(K + "auth:tokens", digest)
        if name is None:
            return None
        record = await self.record(name.decode() if isinstance(name, bytes) else name)
        if not record or not _same(record["token_sha256"], digest):
            return None
        return Principal.from_record(record, credential=digest)


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    cookie: str


class SessionStore:
    """Server-side console sessions. The cookie is ``<id>.<HMAC-SHA256(secret, id)>``."""

    def __init__(self, redis: Redis, users: UserStore, ttl: int, secret: str | None = None) -> None:
        self.redis = redis
        self.users = users
        self.ttl = ttl
        self._secret = secret.encode() if secret else None

    async def secret(self) -> bytes:
        if self._secret is None:
            await self.redis.set(K + "review:secret", secrets.token_hex(32), nx=True)
            self._secret = (await self.redis.get(K + "review:secret")) or b""
        return self._secret

    async def _sign(self, sid: str) -> str:
        mac = hmac.new(await self.secret(), sid.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    async def create(self, principal: Principal) -> Session:
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        await self.redis.set(f"{K}session:{token_digest(sid)}",
                             json.dumps({"user": principal.name, "csrf": csrf,
                                         "token_sha256": principal.credential,
                                         "created_at": time.time()}), ex=self.ttl)
        return Session(principal, csrf, f"{sid}.{await self._sign(sid)}")

    async def load(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 200 or "." not in cookie:
            return None
        sid, _, mac = cookie.partition(".")
        if not _same(mac, await self._sign(sid)):
            return None
        key = f"{K}session:{token_digest(sid)}"
        raw = await self.redis.get(key)
        if not raw:
            return None
        data = json.loads(raw)
        record = await self.users.record(data["user"])
        # A session ends with its token: revoked (no record), rotated (another digest), or made
        # before sessions were bound to tokens (no digest kept).
        if record is None or not _same(record["token_sha256"], str(data.get("token_sha256") or "")):
            await self.redis.delete(key)
            return None
        return Session(Principal.from_record(record, credential=record["token_sha256"]),
                       data["csrf"], cookie)

    async def destroy(self, cookie: str) -> None:
        sid = cookie.partition(".")[0]
        await self.redis.delete(f"{K}session:{token_digest(sid)}")


def csrf_ok(expected: str, given: object) -> bool:
    """Constant-time CSRF check; anything but a non-empty string fails.

    >>> csrf_ok("abc", "abc"), csrf_ok("abc", ""), csrf_ok("abc", None), csrf_ok("abc", "ä")
    (True, False, False, False)
    """
    return isinstance(given, str) and bool(given) and _same(expected, given)


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two strings; ``hmac.compare_digest`` raises TypeError on
    non-ASCII ``str``, and form fields and cookies can hold anything."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
