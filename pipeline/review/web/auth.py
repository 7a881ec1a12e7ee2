"""Users, roles, API tokens and console sessions.

* A token is ``vgl_`` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored; a lookup
  finds the user by that digest and compares the stored digest in constant time. It is shown once,
  by ``vigil review add-user``.
* The console exchanges a token for a session: a random id kept in Redis (under its SHA-256, with
  an expiry) and sent as an HMAC-signed, HttpOnly, SameSite=Strict cookie (Secure over https). Each
  session has its own CSRF token, which every console form carries and every POST checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

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

    async def add_user(self, name: str, role: str, *, rotate: bool = False) -> str:
        """Create ``name`` with ``role`` (or give an existing user a new token with ``rotate``);
        returns the token, which is not stored anywhere."""
        if not NAME_RE.match(name):
            raise AuthError(f"user name {name!r} must be 1-64 letters, digits, '_', '.', '@' or '-'")
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        existing = await self.redis.hget(K + "auth:users", name)
        if existing and not rotate:
            raise AuthError(f"user {name} exists; pass --rotate to issue a new token")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_digest(token)
        record = {"name": name, "role": role, "token_sha256": digest, "created_at": time.time()}
        pipe = self.redis.pipeline(transaction=True)
        if existing:
            pipe.hdel(K + "auth:tokens", json.loads(existing)["token_sha256"])
        pipe.hset(K + "auth:tokens", digest, name)
        pipe.hset(K + "auth:users", name, json.dumps(record))
        await pipe.execute()
        return token

    async def revoke(self, name: str) -> bool:
        existing = await self.redis.hget(K + "auth:users", name)
        if not existing:
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(K + "auth:tokens", json.loads(existing)["token_sha256"])
        pipe.hdel(K + "auth:users", name)
        await pipe.execute()
        return True

    async def get(self, name: str) -> Principal | None:
        raw = await self.redis.hget(K + "auth:users", name)
        if not raw:
            return None
        record = json.loads(raw)
        return Principal(record["name"], record["role"])

    async def users(self) -> list[dict[str, Any]]:
        raw = await self.redis.hgetall(K + "auth:users")
        out = [json.loads(v) for v in raw.values()]
        return sorted(({"name": u["name"], "role": u["role"], "created_at": u["created_at"]}
                       for u in out), key=lambda u: u["name"])

    async def authenticate(self, token: str | None) -> Principal | None:
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_digest(token)
        name = await self.redis.hget(K + "auth:tokens", digest)
        if name is None:
            return None
        raw = await self.redis.hget(K + "auth:users", name)
        if not raw:
            return None
        record = json.loads(raw)
        if not hmac.compare_digest(record["token_sha256"], digest):
            return None
        return Principal(record["name"], record["role"])


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
                                         "created_at": time.time()}), ex=self.ttl)
        return Session(principal, csrf, f"{sid}.{await self._sign(sid)}")

    async def load(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 200 or "." not in cookie:
            return None
        sid, _, mac = cookie.partition(".")
        if not hmac.compare_digest(mac, await self._sign(sid)):
            return None
        raw = await self.redis.get(f"{K}session:{token_digest(sid)}")
        if not raw:
            return None
        data = json.loads(raw)
        principal = await self.users.get(data["user"])  # a revoked user's sessions end too
        if principal is None:
            return None
        return Session(principal, data["csrf"], cookie)

    async def destroy(self, cookie: str) -> None:
        sid = cookie.partition(".")[0]
        await self.redis.delete(f"{K}session:{token_digest(sid)}")


def csrf_ok(expected: str, given: object) -> bool:
    """Constant-time CSRF check; anything but a non-empty string fails.

    >>> csrf_ok("abc", "abc"), csrf_ok("abc", ""), csrf_ok("abc", None)
    (True, False, False)
    """
    return isinstance(given, str) and bool(given) and hmac.compare_digest(expected, given)
