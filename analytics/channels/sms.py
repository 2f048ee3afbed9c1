"""Short texts by Twilio's Messages API."""

from __future__ import annotations

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from analytics.channels import ChannelError
from analytics.config import AnalyticsSettings

MAX_BODY = 600  # Twilio splits into segments and allows 1600; a text should stay short


def client(settings: AnalyticsSettings) -> Client:
    c = Client(settings.twilio_account_sid, settings.twilio_auth_token,
               http_client=TwilioHttpClient(timeout=settings.timeout))
    if settings.twilio_api_url:  # a Twilio-compatible endpoint, or a local fake in tests
        c.api.base_url = settings.twilio_api_url.rstrip("/")
    return c


def send(settings: AnalyticsSettings, body: str) -> str:
    """Text every recipient; fail (after trying them all) if any text was refused."""
    body = body if len(body) <= MAX_BODY else body[: MAX_BODY - 1] + "…"
    c = client(settings)
    sent, problems = [], []
    for to in settings.sms_to:
        try:
            message = c.messages.create(to=to, from_=settings.sms_from, body=body)
            sent.append(message.sid)
        except TwilioRestException as e:
            problems.append(f"{to}: Twilio {e.status} error {e.code}: {e.msg}")
        except (TwilioException, OSError) as e:
            problems.append(f"{to}: {type(e).__name__}: {e}")
    if problems:
        raise ChannelError("sms: " + "; ".join(problems))
    return f"{len(sent)} text(s) sent"
