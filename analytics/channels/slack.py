"""Slack: an incoming webhook (text only), or a bot token that also uploads the chart."""

from __future__ import annotations

import math
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from analytics.config import AnalyticsSettings
from novalgo.channels import ChannelError, post_slack
from novalgo.settings import NotifySettings


def blocks(title: str, body: str) -> list[dict]:
    return [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
    ]


def send(settings: AnalyticsSettings, title: str, body: str, chart: Path | None = None) -> str:
    """Post through the bot token when set (with the chart), else through the webhook."""
    notify = settings.notify
    timeout = math.ceil(notify.timeout)
    text = f"{title}\n{body}"
    try:
        if notify.slack_bot_token:
            return _post_with_bot(notify, title, body, text, chart, timeout)
    except SlackApiError as e:
        raise ChannelError(f"slack: the API said {e.response.get('error', e.response.status_code)}") from e
    except (SlackClientError, OSError) as e:
        raise ChannelError(f"slack: {type(e).__name__}: {e}") from e
    return post_slack(notify.slack_webhook, text, timeout=notify.timeout, blocks=blocks(title, body))


def _post_with_bot(settings: NotifySettings, title: str, body: str, text: str, chart: Path | None,
                   timeout: int) -> str:
    base = (settings.slack_api_url or "https://slack.com/api/").rstrip("/") + "/"
    web = WebClient(token=settings.slack_bot_token, base_url=base, timeout=timeout)
    posted = web.chat_postMessage(channel=settings.slack_channel, text=text, blocks=blocks(title, body))
    if chart is None:
        return f"posted to {settings.slack_channel}"
    # Uploads need the channel's id; chat.postMessage tells us it even when given a name.
    web.files_upload_v2(channel=posted["channel"], file=str(chart), filename=chart.name,
                        title=title, thread_ts=posted.get("ts"))
    return f"posted to {settings.slack_channel} with {chart.name}"
