"""docs/SETTINGS.md and .env.example name the same settings: a variable added to one and not the
other is a setting a trader cannot find, or one documented that nothing shows how to set."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = re.compile(r"\b(?:NOVALGO|APCA|TWILIO)_[A-Z0-9_]*[A-Z0-9]\b|\bGOOGLE_APPLICATION_CREDENTIALS\b|\bWEB_CONCURRENCY\b")


def names(path: Path) -> set[str]:
    return set(NAME.findall(path.read_text()))


def test_the_settings_page_and_the_env_template_name_the_same_settings():
    documented, template = names(REPO / "docs" / "SETTINGS.md"), names(REPO / ".env.example")
    assert sorted(template - documented) == [], "in .env.example, missing from docs/SETTINGS.md"
    assert sorted(documented - template) == [], "in docs/SETTINGS.md, missing from .env.example"


def test_the_readme_points_at_the_settings_page():
    assert "docs/SETTINGS.md" in (REPO / "README.md").read_text()
