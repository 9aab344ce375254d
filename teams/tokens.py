"""API tokens: named keys stored as SHA-256 digests, optionally read-only or expiring.

A key is random (256 bits), so a plain SHA-256 is enough to store it: unlike a
password it cannot be guessed from a dictionary, and hashing it fast keeps
every API request cheap.
"""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from teams.audit import AuditAction, audit_record
from teams.models import ApiToken

KEY_PREFIX = "upt_"
# last_used_at is written at most this often per token, not on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(
    *,
    user: AbstractBaseUser,
    name: str,
    read_only: bool = False,
    expires_at=None,
    via: str = "",
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its key; the key is not stored and cannot be shown again.

    Recorded in the audit log as an account event of the user (no project);
    `via` says where it was made when the user did not (a command).
    """
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip()[:100] or "API token",
            prefix=key[: len(KEY_PREFIX) + 4],
            digest=digest_of(key),
            read_only=read_only,
            expires_at=expires_at,
        )
        audit_record(
            action=AuditAction.TOKEN_CREATED,
            actor=user,
            target=token,
            detail={"readOnly": read_only, **({"via": via} if via else {})},
            request=request,
        )
    return token, key


def token_revoke(*, token: ApiToken, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        audit_record(
            action=AuditAction.TOKEN_REVOKED, actor=token.user, target=token, request=request
        )
        token.delete()


def token_for_key(key: str) -> ApiToken | None:
    """The live token with this key, or None (unknown, expired, or its user inactive)."""
    token = (
        ApiToken.objects.select_related("user").filter(digest=digest_of(key)).first()
        if key
        else None
    )
    if token is None or token.expired or not token.user.is_active:
        return None
    return token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` (as before) or `Bearer <key>` (what Prometheus sends)."""

    keywords = ("Token", "Bearer")

    def authenticate(self, request: Request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace") not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: send one key.")
        try:
            key = parts[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema names ApiTokenAuthentication (drf-spectacular finds it by class)."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An API token: "Token <key>" or "Bearer <key>".',
        }


class TokenScopePermission(permissions.BasePermission):
    """A read-only token may read but not write."""

    message = "This token is read-only."

    def has_permission(self, request: Request, view) -> bool:
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only:
            return request.method in permissions.SAFE_METHODS
        return True
