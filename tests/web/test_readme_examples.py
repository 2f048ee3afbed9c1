"""Every alert example in README's "Alert messages", posted through the webhook on local defaults.

A new user copies these first: each must be read and traded (a close with nothing held settles
as WAITING), never refused and never FAILED.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.alerts import SECRET, run_queue

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("## Alert messages"):text.index("### Try a message first")]


def _block(kind: str) -> str:
    return re.search(rf"```{kind}\n(.*?)```", _section(), re.DOTALL).group(1)


def json_examples() -> list[str]:
    lines = [line for line in _block("jsonc").splitlines() if not line.lstrip().startswith("//")]
    text, found, decoder = "\n".join(lines), [], json.JSONDecoder()
    position = 0
    while (start := text.find("{", position)) >= 0:
        value, position = decoder.raw_decode(text, start)
        found.append(json.dumps(value).replace('"..."', json.dumps(SECRET)))
    return found


def text_examples() -> list[str]:
    return [re.split(r"\s{2,}", line.strip())[0] for line in _block("text").splitlines() if line.strip()]


EXAMPLES = [pytest.param(body, "/webhook", id=f"json-{n}") for n, body in enumerate(json_examples())] + [
    pytest.param(body.replace("<secret>", SECRET), "/webhook" if "<secret>" in body else f"/webhook/{SECRET}",
                 id=body[:30]) for body in text_examples()]
# What trading may make of an example on a fresh data dir: a close with nothing held settles too.
SETTLED = {"FILLED", "WAITING", "ORDER SUBMITTED"}


def test_the_readme_has_an_example_of_each_dialect():
    assert len(json_examples()) >= 9 and len(text_examples()) >= 10


@pytest.mark.parametrize("body, path", EXAMPLES)
def test_each_readme_example_is_read_and_traded(client, services, body, path):
    services.broker.seed_prices()  # as `novalgo serve` does on a fresh data dir
    response = client.post(path, data=body.encode("utf-8"))
    assert response.status_code == 202, response.get_json()
    alert_id = response.get_json()["alert_id"]
    assert run_queue(services)
    record = services.journal.get(alert_id)
    assert record["status"] in SETTLED, (record["status"], record["reason"])
    assert SECRET not in record["body"]
