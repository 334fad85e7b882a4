"""The deploy kit's settings: deploy/liveshop.env names only real settings and, filled in as the
README's "Put it on the internet" steps do, makes a production configuration liveshop accepts;
the README's configuration table describes every setting (the settings ignore unknown names, so a
misspelt one would otherwise go unnoticed)."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest

from liveshop.config import Settings, resolve_secret_key

ROOT = Path(__file__).resolve().parents[2]
ENV_TEMPLATE = ROOT / "deploy" / "liveshop.env"
NAME = re.compile(r"\bLIVESHOP_[A-Z0-9_]+")


def setting_names() -> set[str]:
    return {f"LIVESHOP_{field.upper()}" for field in Settings.model_fields}


def test_the_env_template_names_only_real_settings() -> None:
    """Every LIVESHOP_* assignment in deploy/liveshop.env (commented out or not) is a setting."""
    assigned = set(re.findall(r"^#?(LIVESHOP_[A-Z0-9_]+)=", ENV_TEMPLATE.read_text(), re.M))
    assert assigned, "no settings found in deploy/liveshop.env"
    assert assigned <= setting_names(), assigned - setting_names()


def test_the_env_template_filled_as_the_readme_says_is_a_production_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the README's generated key and TURN secret, the template loads in production: the key
    is accepted, the proxy is trusted, TURN and metrics are on."""
    for name in list(os.environ):
        if name.startswith("LIVESHOP_"):
            monkeypatch.delenv(name)  # the file alone speaks
    text = ENV_TEMPLATE.read_text()
    text = re.sub(
        r"^LIVESHOP_SECRET_KEY=.*$",
        f"LIVESHOP_SECRET_KEY={secrets.token_urlsafe(48)}",
        text,
        flags=re.M,
    )
    text = re.sub(
        r"^LIVESHOP_TURN_SECRET=.*$",
        f"LIVESHOP_TURN_SECRET={secrets.token_urlsafe(32)}",
        text,
        flags=re.M,
    )
    text = text.replace("/var/lib/liveshop", str(tmp_path / "data"))
    filled = tmp_path / "liveshop.env"
    filled.write_text(text)
    settings = Settings(_env_file=filled)  # type: ignore[call-arg]
    assert settings.env == "production"
    assert resolve_secret_key(settings)
    assert settings.forwarded_allow_ips == "127.0.0.1"
    assert len(settings.turn_url_list) == 3 and settings.turn_secret
    assert settings.metrics_port == 9108 and settings.log_format == "json"
    assert settings.ice_server_list == [{"urls": "stun:shop.example.org:3478"}]


def test_the_readme_configuration_table_describes_every_setting() -> None:
    """Each setting's LIVESHOP_* name appears in the README's configuration table."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") : readme.index("## Command line")]
    missing = setting_names() - set(NAME.findall(table))
    assert not missing, missing
