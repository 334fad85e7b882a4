"""Configuration: environment variables (prefix ``LIVESHOP_``) and an optional ``.env`` file.

Everything the service needs to know about its environment is read here, once, into a frozen
:class:`Settings`. Nothing else in the package reads the environment.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_KEYS = frozenset({"", "change-me", "changeme", "secret", "dev", "placeholder", "xxx"})
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to change."""


class Settings(BaseSettings):
    """Every setting of the service, read from ``LIVESHOP_*`` variables and ``.env``."""

    model_config = SettingsConfigDict(
        env_prefix="LIVESHOP_", env_file=".env", extra="ignore", frozen=True
    )

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "liveshop:"
    media_dir: Path | None = None
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    token_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    guest_token_ttl_seconds: int = Field(default=365 * 24 * 3600, gt=0)
    seller_token_ttl_seconds: int = Field(default=12 * 3600, gt=0)
    media_mode: Literal["sfu", "p2p", "janus"] = "sfu"
    ice_servers: str = "[]"
    public_ip: str = ""
    media_addresses: str = ""
    simulcast: bool = False  # sfu/janus modes: the studio publishes three layers (f/h/q)
    # sfu/janus modes: the codec the studio prefers (h264 where a phone or a recorder wants it;
    # a browser that cannot encode it publishes VP8, which the server takes as well)
    video_codec: Literal["vp8", "h264"] = "vp8"
    janus_urls: str = ""
    janus_api_secret: str = ""
    janus_admin_secret: str = ""
    janus_admin_urls: str = ""
    janus_admin_api_secret: str = ""
    max_recording_bytes: int = Field(default=4 * 1024**3, gt=0)
    # make an MP4 (H.264 + AAC) of every ended show in the background, and its clips
    mp4_replays: bool = True
    login_attempts_per_minute: int = Field(default=10, gt=0)
    guest_tokens_per_minute: int = Field(default=20, ge=0)  # per client address; 0: no limit
    registrations_per_minute: int = Field(default=5, ge=0)  # per client address; 0: no limit
    # per client address, over every identity and process (0: no limit); per identity: 60, 120, 600
    # likes and Buy clicks count only from identities that have watched this long (0: off)
    trusted_after_seconds: float = Field(default=5.0, ge=0, le=600)
    address_chat_per_minute: int = Field(default=300, ge=0)
    address_likes_per_minute: int = Field(default=600, ge=0)
    address_signals_per_minute: int = Field(default=600, ge=0)
    address_connects_per_minute: int = Field(default=600, ge=0)
    node_id: str = ""
    telemetry: bool = False
    forwarded_allow_ips: str = ""
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    turn_urls: str = ""
    turn_secret: str = ""
    turn_ttl_seconds: int = Field(default=12 * 3600, gt=0)
    frame_ancestors: str = ""
    # origins of the shop sites allowed to embed the player (/embed/*) and to receive its messages
    embed_origins: str = ""
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_token: str = ""
    log_format: Literal["text", "json"] = "text"

    @field_validator("turn_urls")
    @classmethod
    def _turn_urls_are_turn(cls, value: str) -> str:
        for url in value.replace(",", " ").split():
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"LIVESHOP_TURN_URLS: {url!r} is not a turn: or turns: URL")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _forwarded_allow_ips_are_addresses(cls, value: str) -> str:
        from liveshop.client_address import parse_allow_ips

        parse_allow_ips(value)
        return value

    @field_validator("ice_servers")
    @classmethod
    def _ice_servers_is_json_list(cls, value: str) -> str:
        try:
            parsed = json.loads(value or "[]")
        except ValueError as exc:
            raise ValueError(f"LIVESHOP_ICE_SERVERS must be a JSON list: {exc}") from exc
        if not isinstance(parsed, list):
            raise ValueError("LIVESHOP_ICE_SERVERS must be a JSON list")
        if any(isinstance(s, dict) and ("credential" in s or "username" in s) for s in parsed):
            raise ValueError(
                "LIVESHOP_ICE_SERVERS must not hold TURN passwords (every browser would get them): "
                "set LIVESHOP_TURN_URLS and LIVESHOP_TURN_SECRET (coturn use-auth-secret) instead"
            )
        return value or "[]"

    @field_validator("embed_origins")
    @classmethod
    def _embed_origins_are_origins(cls, value: str) -> str:
        from liveshop.embedding import parse_origins

        parse_origins(value)
        return value

    @field_validator("media_addresses")
    @classmethod
    def _media_addresses_are_ips(cls, value: str) -> str:
        for item in value.replace(",", " ").split():
            try:
                ipaddress.ip_address(item)
            except ValueError as exc:
                raise ValueError(
                    f"LIVESHOP_MEDIA_ADDRESSES: {item!r} is not an IP address"
                ) from exc
        return value

    @property
    def media_address_list(self) -> list[str]:
        """``LIVESHOP_MEDIA_ADDRESSES`` split on commas and whitespace (empty: every address)."""
        return [a for a in self.media_addresses.replace(",", " ").split() if a]

    @property
    def embed_origin_list(self) -> list[str]:
        """``LIVESHOP_EMBED_ORIGINS`` as normalised origins (``https://shop.example``)."""
        from liveshop.embedding import parse_origins

        return parse_origins(self.embed_origins)

    @property
    def effective_database_url(self) -> str:
        """The database URL; the default is the SQLite file ``{data_dir}/liveshop.db``."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'liveshop.db'}"

    @property
    def effective_media_dir(self) -> Path:
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"

    @property
    def janus_url_list(self) -> list[str]:
        """``LIVESHOP_JANUS_URLS`` split on commas and whitespace."""
        return [u for u in self.janus_urls.replace(",", " ").split() if u]

    @property
    def janus_admin_url_list(self) -> list[str]:
        """``LIVESHOP_JANUS_ADMIN_URLS`` split on commas, positions kept (an empty entry: no Admin
        API for that instance of ``LIVESHOP_JANUS_URLS``)."""
        if not self.janus_admin_urls.strip():
            return []
        return [u.strip() for u in self.janus_admin_urls.split(",")]

    @property
    def ice_server_list(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads(self.ice_servers)
        return result

    @property
    def turn_url_list(self) -> list[str]:
        """``LIVESHOP_TURN_URLS`` split on commas and whitespace."""
        return [u for u in self.turn_urls.replace(",", " ").split() if u]


def resolve_secret_key(settings: Settings) -> str:
    """Return the signing key.

    Guarantees: in production a missing, short or placeholder key raises :class:`ConfigError`;
    elsewhere an unset key is generated once and kept in ``{data_dir}/secret-key`` (mode 0600), so
    tokens survive restarts.
    """
    key = settings.secret_key.strip()
    if settings.env == "production":
        from liveshop.key_strength import weakness

        reason = weakness(key)
        if reason is not None:
            raise ConfigError(
                f"LIVESHOP_SECRET_KEY is missing or weak ({reason}); with LIVESHOP_ENV=production "
                f"set it to a random string of at least {MIN_SECRET_LENGTH} characters, e.g. the "
                "output of `python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        return key
    if key:
        return key
    path = settings.data_dir / "secret-key"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
