"""Notifications: a real local SMTP server (aiosmtpd) and a real HTTP server for webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from gis_app.incidents import notify, validate
from gis_app.incidents.create import create_incident
from incidents.incident_helpers import at, line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture
def webhook():
    """An HTTP receiver answering the statuses queued in `answers` (then 200), keeping requests."""
    received, answers = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers, body))  # case-insensitive
            self.send_response(answers.pop(0) if answers else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received, answers
    server.shutdown()
    server.server_close()


def incident_for(session, registry, actors, make_operator, make_feature, **contacts) -> int:
    op = make_operator("t-notified", **contacts)
    make_feature(op, line((-50, 3), (50, 3)))
    lon, lat = at(0, 0)
    data = validate.create_payload(
        session, {"lon": lon, "lat": lat, "utility": "water", "description": "<b>Порыв</b>"}
    )
    return create_incident(session, registry, actors["dispatcher"], data)


def due_now(session) -> None:
    session.execute(
        text(
            "UPDATE notifications SET next_attempt_at = now() - interval '1 second'"
            " WHERE status = 'pending'"
        )
    )


def states(session, incident_id: int) -> list[tuple]:
    return [
        (n["channel"], n["status"], n["attempts"]) for n in notify.deliveries(session, incident_id)
    ]


def test_email_and_signed_webhook_with_a_retry(
    session, registry, actors, make_operator, make_feature, smtp, webhook
):
    port, inbox = smtp
    url, received, answers = webhook
    answers.append(500)  # the receiver fails once
    incident_id = incident_for(
        session,
        registry,
        actors,
        make_operator,
        make_feature,
        email="ads@example.invalid",
        webhook=url,
    )
    settings = notify.NotifySettings(
        smtp_port=port, max_attempts=3, backoff_s=30, webhook_allowed_hosts=frozenset({"127.0.0.1"})
    )
    assert notify.deliver_due(session, settings) == {"sent": 1, "retry": 1, "failed": 0}
    assert states(session, incident_id) == [("email", "sent", 1), ("webhook", "pending", 1)]
    assert notify.deliver_due(session, settings)["retry"] == 0  # backing off: not due yet
    due_now(session)
    assert notify.deliver_due(session, settings) == {"sent": 1, "retry": 0, "failed": 0}
    assert states(session, incident_id) == [("email", "sent", 1), ("webhook", "sent", 2)]

    (mail,) = inbox.messages
    assert mail["To"] == "ads@example.invalid" and f"№{incident_id}" in mail["Subject"]
    assert "<b>Порыв</b>" in mail.get_content()

    headers, body = received[-1]
    expected = hmac.new(
        b"s3cret", headers["X-GisApp-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-GisApp-Signature"] == f"sha256={expected}"
    assert headers["X-GisApp-Event"] == "assigned"
    assert json.loads(body)["incident"]["id"] == incident_id
    assert headers["X-GisApp-Delivery"] == received[0][0]["X-GisApp-Delivery"]  # same message

    results = session.execute(
        text(
            "SELECT data->>'channel', data->>'result' FROM incident_events"
            " WHERE incident_id = :id AND action = 'notification' ORDER BY id"
        ),
        {"id": incident_id},
    ).all()
    assert results == [("email", "sent"), ("webhook", "retry"), ("webhook", "sent")]


def test_nothing_is_dropped_when_the_receiver_is_down(
    session, registry, actors, make_operator, make_feature, smtp
):
    port, inbox = smtp
    incident_id = incident_for(
        session, registry, actors, make_operator, make_feature, email="ads@example.invalid"
    )
    down = notify.NotifySettings(smtp_port=free_port(), max_attempts=2, backoff_s=1)
    assert notify.deliver_due(session, down)["retry"] == 1
    due_now(session)
    assert notify.deliver_due(session, down)["failed"] == 1
    (row,) = notify.deliveries(session, incident_id)
    assert row["status"] == "failed" and "Connection refused" in row["last_error"]
    # Once the server is back, the failed message is queued again and delivered.
    assert notify.retry_failed(session) >= 1
    up = notify.NotifySettings(smtp_port=port)
    assert notify.deliver_due(session, up)["sent"] >= 1
    assert states(session, incident_id) == [("email", "sent", 3)]
    assert len(inbox.messages) == 1


def test_an_operator_without_contacts_is_recorded(
    session, registry, actors, make_operator, make_feature
):
    incident_id = incident_for(session, registry, actors, make_operator, make_feature)
    assert notify.deliveries(session, incident_id) == []
    comment = session.execute(
        text(
            "SELECT comment FROM incident_events WHERE incident_id = :id"
            " AND action = 'notification'"
        ),
        {"id": incident_id},
    ).scalar_one()
    assert "no e-mail and no webhook" in comment


def test_operator_sets_its_own_webhook(client_as, session):
    op = client_as("operator")
    own = session.execute(
        text("SELECT id FROM operators WHERE slug = 'demo-vodokanal-gatchina'")
    ).scalar_one()
    r = op.put(f"/api/operators/{own}/webhook", json={"url": "https://ads.example.invalid/hook"})
    assert r.status_code == 200 and len(r.get_json()["secret"]) >= 32
    other = op.put(f"/api/operators/{own + 1}/webhook", json={"url": "https://x.invalid"})
    assert other.status_code == 403
    assert op.put(f"/api/operators/{own}/webhook", json={"url": "ftp://x"}).status_code == 400


LOCAL = frozenset({"127.0.0.1"})


def test_the_webhook_gets_the_incident_as_it_is_when_sent(
    session, registry, actors, make_operator, make_feature, webhook
):
    url, received, answers = webhook
    incident_id = incident_for(session, registry, actors, make_operator, make_feature, webhook=url)
    # Changed after the message was queued: the receiver must see the change.
    session.execute(
        text("UPDATE incidents SET description = 'уточнено', priority = 1 WHERE id = :id"),
        {"id": incident_id},
    )
    settings = notify.NotifySettings(webhook_allowed_hosts=LOCAL)
    assert notify.deliver_due(session, settings)["sent"] == 1
    sent = json.loads(received[-1][1])["incident"]
    assert sent["description"] == "уточнено" and sent["priority"] == 1


def test_a_webhook_is_checked_again_when_sent(
    session, registry, actors, make_operator, make_feature, webhook
):
    url, received, answers = webhook
    incident_id = incident_for(session, registry, actors, make_operator, make_feature, webhook=url)
    # Stored behind the API's back (or allowed then, and no longer): refused at send time.
    assert notify.deliver_due(session, notify.NotifySettings())["retry"] == 1
    (row,) = notify.deliveries(session, incident_id)
    assert "WebhookRefused" in row["last_error"] and "127.0.0.1" in row["last_error"]
    assert received == []


def test_a_webhook_goes_to_the_url_of_now_and_redirects_are_not_followed(
    session, registry, actors, make_operator, make_feature, webhook
):
    url, received, answers = webhook
    incident_id = incident_for(
        session, registry, actors, make_operator, make_feature, webhook="http://127.0.0.1:9/old"
    )
    session.execute(
        text(
            "UPDATE operators SET webhook_url = :u WHERE id ="
            " (SELECT operator_id FROM incidents WHERE id = :id)"
        ),
        {"u": url, "id": incident_id},
    )
    answers.append(302)  # a redirect (no Location even needed): an error, not followed
    settings = notify.NotifySettings(webhook_allowed_hosts=LOCAL)
    assert notify.deliver_due(session, settings)["retry"] == 1
    (row,) = notify.deliveries(session, incident_id)
    assert "302" in row["last_error"] and len(received) == 1
    due_now(session)
    assert notify.deliver_due(session, settings)["sent"] == 1
    (row,) = notify.deliveries(session, incident_id)
    assert row["target"] == url


def test_a_webhook_is_sent_to_the_address_that_was_checked(webhook):
    from gis_app.incidents.webhook_targets import post

    url, received, answers = webhook
    port = url.rsplit(":", 1)[1].split("/")[0]
    # The name is not resolved again (it resolves nowhere here): the checked address is used,
    # and the Host header still names the URL's host.
    status = post(f"http://hooks.example.invalid:{port}/hook", b"{}", {}, ["127.0.0.1"], 5)
    assert status == 200
    headers, body = received[-1]
    assert headers["Host"] == f"hooks.example.invalid:{port}" and body == b"{}"
