"""`novalgo serve` finds the shipped gunicorn settings from wherever its module now lives."""

from __future__ import annotations

from novalgo.cli.serve import GUNICORN_CONF


def test_serve_finds_deploy_gunicorn_conf():
    assert GUNICORN_CONF.is_file()
    assert GUNICORN_CONF.parent.name == "deploy"
    assert "workers" in GUNICORN_CONF.read_text()
