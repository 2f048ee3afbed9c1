"""The report delivered for real: SMTP with STARTTLS, Slack webhook and Web API, Twilio."""

from __future__ import annotations

import re

import pytest

from tests.fakes.slack_server import FakeSlack
from tests.fakes.smtp import FakeSMTP
from tests.fakes.twilio_server import FakeTwilio
from tests.support.analytics import market_files, offline_args, run


@pytest.fixture
def smtp(tmp_path):
    with FakeSMTP(tmp_path / "tls") as server:
        yield server


@pytest.fixture
def slack():
    with FakeSlack() as server:
        yield server


@pytest.fixture
def twilio():
    with FakeTwilio() as server:
        yield server


def email_env(smtp: FakeSMTP) -> dict[str, str]:
    return {
        "NOVALGO_SMTP_HOST": "127.0.0.1", "NOVALGO_SMTP_PORT": str(smtp.port), "NOVALGO_SMTP_USER": smtp.user,
        "NOVALGO_SMTP_PASSWORD": smtp.password, "NOVALGO_SMTP_CA_FILE": str(smtp.ca_file),
        "NOVALGO_EMAIL_FROM": "NovAlgo <bot@example.com>", "NOVALGO_EMAIL_TO": "trader@example.com, partner@example.com",
        "NOVALGO_NOTIFY_TIMEOUT": "5",
    }


def sms_env(twilio: FakeTwilio) -> dict[str, str]:
    return {"TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "NOVALGO_TWILIO_API_URL": twilio.url, "NOVALGO_SMS_FROM": "+15005550006", "NOVALGO_SMS_TO": "+15551234567",
            "NOVALGO_NOTIFY_TIMEOUT": "5"}


def test_email_arrives_over_starttls_with_inline_charts_and_csv_attachments(workdir, smtp):
    files = market_files(workdir)
    result = run("report", *offline_args(files), env=email_env(smtp))
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received.tls and received.login == smtp.user
    assert sorted(received.rcpt_tos) == ["partner@example.com", "trader@example.com"]
    msg = received.message
    assert msg["Subject"].startswith("NovAlgo report")

    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "Risk and return" in html and "Closed trades" in html and "SPY" in html
    assert "MSFT" in html and "+$112.50" in html  # the MSFT round trip: 10 × (391.25 − 380)

    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    images = {part["Content-ID"].strip("<>"): part for part in msg.walk() if part.get_content_type() == "image/png"}
    assert cids and cids == set(images)  # every chart the HTML shows travels in the message
    assert {"equity", "drawdown", "pnl"} <= {part.get_filename().split("_")[0] for part in images.values()}
    for part in images.values():
        assert part.get_content().startswith(b"\x89PNG")

    attached = {part.get_filename(): part.get_content() for part in msg.iter_attachments()
                if part.get_content_type() == "text/csv"}
    names = sorted(re.sub(r"_\d{8}_\d{6}", "", name) for name in attached)
    assert names == ["account.csv", "positions.csv", "trades.csv"]
    trades = next(v for k, v in attached.items() if k.startswith("trades_"))
    assert trades.splitlines()[0].startswith("symbol,side,qty,entry_price,exit_price,pnl")
    assert len(trades.strip().splitlines()) == 6  # header + five closed trades
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Sharpe" in text


def test_email_refuses_a_server_without_the_right_certificate(workdir, smtp, tmp_path):
    from tests.fakes.smtp import make_tls_files

    other_ca, _, _ = make_tls_files(tmp_path / "other")
    env = {**email_env(smtp), "NOVALGO_SMTP_CA_FILE": str(other_ca)}
    result = run("report", *offline_args(market_files(workdir)), env=env)
    assert result.exit_code == 4  # the email bit
    assert "email: cannot send" in result.stderr and smtp.messages == []
    assert smtp.password not in result.output


def test_slack_webhook_gets_the_summary(workdir, slack):
    env = {"NOVALGO_SLACK_WEBHOOK_URL": slack.webhook_url}
    result = run("report", *offline_args(market_files(workdir)), env=env)
    assert result.exit_code == 0, result.output
    (post,) = slack.webhook_posts
    assert post["text"].startswith("NovAlgo") and "Sharpe" in post["text"]
    assert post["blocks"][0]["type"] == "header"


def test_slack_bot_posts_and_uploads_the_equity_chart(workdir, slack):
    env = {"NOVALGO_SLACK_BOT_TOKEN": slack.bot_token, "NOVALGO_SLACK_CHANNEL": "#trading",
           "NOVALGO_SLACK_API_URL": slack.api_url}
    result = run("report", *offline_args(market_files(workdir)), env=env)
    assert result.exit_code == 0, result.output
    (message,) = slack.messages
    assert message["channel"] == "C0TRADING" and "Sharpe" in message["text"]
    (upload,) = slack.completed
    assert upload.filename.startswith("equity_") and upload.data.startswith(b"\x89PNG")
    assert upload.channel_id == "C0TRADING"


def test_sms_summary_by_twilio(workdir, twilio):
    result = run("report", *offline_args(market_files(workdir)), env=sms_env(twilio))
    assert result.exit_code == 0, result.output
    (text,) = twilio.sent
    assert text["to"] == "+15551234567" and text["from"] == "+15005550006"
    assert "return" in text["body"] and "vs SPY" in text["body"] and len(text["body"]) < 320


def test_one_failing_channel_does_not_stop_the_others(workdir, smtp, slack, twilio):
    twilio.fail_with = (400, 21211, "The 'To' number +15551234567 is not a valid phone number.")
    env = {**email_env(smtp), **sms_env(twilio), "NOVALGO_SLACK_WEBHOOK_URL": slack.webhook_url + "-revoked"}
    result = run("report", *offline_args(market_files(workdir)), env=env)
    assert result.exit_code == 8 | 16  # SMS and Slack failed, email went
    assert len(smtp.messages) == 1
    assert "sms: FAILED" in result.stderr and "21211" in result.stderr
    assert "slack: FAILED" in result.stderr and "404" in result.stderr
    assert twilio.auth_token not in result.output


def test_wrong_twilio_token_is_reported_not_raised(workdir, twilio):
    env = {**sms_env(twilio), "TWILIO_AUTH_TOKEN": "wrong"}
    result = run("report", *offline_args(market_files(workdir)), env=env)
    assert result.exit_code == 8 and "20003" in result.stderr


def test_the_report_reaches_a_channel_set_up_for_live_notices(workdir):
    # One registry: the Discord webhook the service posts live notices to also gets the report.
    from tests.fakes.discord_server import FakeDiscord

    with FakeDiscord() as discord:
        result = run("report", *offline_args(market_files(workdir)),
                     env={"NOVALGO_NOTIFY_DISCORD_WEBHOOK": discord.webhook_url})
        assert result.exit_code == 0, result.output
        (content,) = discord.contents
        assert content.startswith("NovAlgo") and "Sharpe" in content
