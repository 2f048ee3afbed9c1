"""The WSGI entry for gunicorn: ``novalgo.wsgi:app`` (settings from the environment)."""

import logging

from novalgo.web import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
