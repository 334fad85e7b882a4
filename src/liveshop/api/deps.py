"""FastAPI dependencies: each resource the app's lifespan owns, and the caller's identity (from the
token only). A handler names exactly the resources it uses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from liveshop.announcer import Announcer
from liveshop.authentication import Authenticator
from liveshop.broker.base import Broker
from liveshop.config import Settings
from liveshop.domain.identity import Identity
from liveshop.media.base import MediaBackend
from liveshop.quota.base import Quotas
from liveshop.replay.renditions import RenditionWorker
from liveshop.security import InvalidToken, TokenService
from liveshop.storage.engine import Database

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def from_state(name: str) -> Any:
    """A dependency answering the resource the lifespan put on ``app.state.<name>``."""

    def resource(request: Request) -> Any:
        return getattr(request.app.state, name)

    resource.__name__ = f"get_{name}"
    return resource


SettingsDep = Annotated[Settings, Depends(from_state("settings"))]
DbDep = Annotated[Database, Depends(from_state("db"))]
BrokerDep = Annotated[Broker, Depends(from_state("broker"))]
TokensDep = Annotated[TokenService, Depends(from_state("tokens"))]
AuthenticatorDep = Annotated[Authenticator, Depends(from_state("authenticator"))]
MediaDep = Annotated[MediaBackend, Depends(from_state("media"))]
AnnouncerDep = Annotated[Announcer, Depends(from_state("announcer"))]
QuotasDep = Annotated[Quotas, Depends(from_state("quotas"))]
RenditionsDep = Annotated[RenditionWorker, Depends(from_state("renditions"))]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# Declares the ``bearer`` security scheme in /openapi.json and marks every operation that needs it.
bearer = HTTPBearer(
    scheme_name="bearer",
    description="`Authorization: Bearer <accessToken>` from /api/auth/login, /register or /guest",
    auto_error=False,
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


async def current_identity(credentials: BearerDep, authenticator: AuthenticatorDep) -> Identity:
    """The verified caller; 401 without a token or with a bad, expired or revoked one."""
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated", UNAUTHORIZED)
    try:
        return await authenticator.identify(credentials.credentials)
    except InvalidToken:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Invalid or expired token", UNAUTHORIZED
        ) from None


async def require_admin(identity: Annotated[Identity, Depends(current_identity)]) -> Identity:
    """The caller when they are a seller (admin); 403 for any other role."""
    if not identity.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Seller (admin) role required")
    return identity


async def require_staff(identity: Annotated[Identity, Depends(current_identity)]) -> Identity:
    """The caller when they are the seller or a moderator; 403 for any other role."""
    if not identity.is_staff:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Seller or moderator role required")
    return identity


async def require_publisher(request: Request, authenticator: AuthenticatorDep) -> Identity:
    """A seller's token or a seller's stream key (WHIP only); 401 without either, 403 for
    another role's token."""
    token = bearer_token(request)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated", UNAUTHORIZED)
    try:
        identity = await authenticator.identify_publisher(token)
    except InvalidToken:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "A seller's token or stream key is required", UNAUTHORIZED
        ) from None
    if not identity.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Seller (admin) role required")
    return identity


IdentityDep = Annotated[Identity, Depends(current_identity)]
AdminDep = Annotated[Identity, Depends(require_admin)]
StaffDep = Annotated[Identity, Depends(require_staff)]
PublisherDep = Annotated[Identity, Depends(require_publisher)]


Responses = dict[int | str, dict[str, Any]]
ADMIN_ONLY: Responses = {
    401: {"description": "No valid token"},
    403: {"description": "Not a seller"},
}
CONFLICT: Responses = {409: {"description": "Conflicts with the current state"}}


def not_found(what: str) -> Responses:
    return {404: {"description": f"No such {what}"}}
