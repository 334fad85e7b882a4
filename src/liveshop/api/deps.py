"""FastAPI dependencies: the app's services and the caller's identity (from the token only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from liveshop.domain.identity import Identity
from liveshop.security import InvalidToken
from liveshop.services import Services

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def current_identity(request: Request, services: ServicesDep) -> Identity:
    """The verified caller; 401 without a token or with a bad or expired one."""
    token = bearer_token(request)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated", UNAUTHORIZED)
    try:
        return services.tokens.verify(token)
    except InvalidToken:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Invalid or expired token", UNAUTHORIZED
        ) from None


async def require_admin(identity: Annotated[Identity, Depends(current_identity)]) -> Identity:
    """The caller when they are a seller (admin); 403 for any other role."""
    if not identity.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Seller (admin) role required")
    return identity


IdentityDep = Annotated[Identity, Depends(current_identity)]
AdminDep = Annotated[Identity, Depends(require_admin)]


Responses = dict[int | str, dict[str, Any]]
ADMIN_ONLY: Responses = {
    401: {"description": "No valid token"},
    403: {"description": "Not a seller"},
}
CONFLICT: Responses = {409: {"description": "Conflicts with the current state"}}


def not_found(what: str) -> Responses:
    return {404: {"description": f"No such {what}"}}
