"""Telling the operator: an outbox written with the change, delivered by a worker, retried.

A notification row is inserted in the same transaction as the change it reports, so nothing is
lost when a receiver (or this process) is down; `gis-app notify run` sends what is due by e-mail
(SMTP) and by a signed webhook, retrying with exponential back-off. Each attempt is recorded on
the incident as an event. Receivers should treat X-GisApp-Delivery as an idempotency key: a
message whose success was not recorded (a crash after sending) is sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.incidents.tokens import make_token

EVENTS = ("assigned", "reassigned", "overdue", "reopened", "escalated") + (
    "received",  # the reporter's messages (incidents/reporter.py)
    "accepted",
    "resolved",
    "closed",
)
SUBJECTS = {
    "assigned": "назначен вашей организации / assigned to you",
    "reassigned": "передан вашей организации / reassigned to you",
    "overdue": "срок истёк / overdue",
    "reopened": "открыт повторно / reopened",
    "escalated": "эскалация: срок истёк / escalated, overdue",
    "received": "сообщение зарегистрировано / your report is registered",
    "accepted": "принято в работу / accepted",
    "resolved": "устранено — подтвердите / resolved, please confirm",
    "closed": "закрыто / closed",
}
TARGETS_RU = {"municipal": "ЕДДС/МЦУ муниципального образования", "regional": "ЦУР области"}


@dataclass(frozen=True)
class NotifySettings:
    """Where and how to send: the SMTP server, the sender, retries and timeouts."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "gis-app@localhost"
    max_attempts: int = 8
    backoff_s: int = 30
    timeout_s: float = 10.0
    # The reporter's links: the public address, the key that signs them, their life in days.
    public_url: str = "http://127.0.0.1:5000"
    secret_key: str = ""
    feedback_days: int = 14

    @classmethod
    def from_config(cls, config: dict) -> NotifySettings:
        """The settings of an app's config (GIS_APP_SMTP_*, GIS_APP_NOTIFY_*)."""
        return cls(
            smtp_host=config["GIS_APP_SMTP_HOST"],
            smtp_port=int(config["GIS_APP_SMTP_PORT"]),
            mail_from=config["GIS_APP_MAIL_FROM"],
            max_attempts=int(config["GIS_APP_NOTIFY_MAX_ATTEMPTS"]),
            backoff_s=int(config["GIS_APP_NOTIFY_BACKOFF_S"]),
            public_url=str(config["GIS_APP_PUBLIC_URL"]).rstrip("/"),
            secret_key=str(config["SECRET_KEY"]),
            feedback_days=int(config["GIS_APP_FEEDBACK_DAYS"]),
        )

    def delay(self, attempts: int) -> timedelta:
        """Back-off after `attempts` failures: base × 2^(n-1), at most an hour."""
        return timedelta(seconds=min(self.backoff_s * 2 ** max(attempts - 1, 0), 3600))


def _event(session: Session, incident_id: int, data: dict, comment: str) -> None:
    session.execute(
        text(
            "INSERT INTO incident_events (incident_id, actor, action, comment, data)"
            " VALUES (:id, 'system', 'notification', :comment, CAST(:data AS jsonb))"
        ),
        {"id": incident_id, "comment": comment, "data": json.dumps(data, ensure_ascii=False)},
    )


_INCIDENT = text(
    """
    SELECT i.id, i.operator_id, o.short_name, o.dispatch_email, o.webhook_url,
        json_build_object('id', i.id, 'status', i.status, 'kind', i.kind,
            'utility', i.utility_code, 'category', i.category, 'priority', i.priority,
            'description', i.description, 'address', i.address,
            'lon', ST_X(i.geom), 'lat', ST_Y(i.geom), 'operator_id', i.operator_id,
            'operator', o.short_name, 'responsible_rule', i.responsible_rule,
            'responsible_reason', i.responsible_reason, 'feature_id', i.feature_id,
            'accept_due_at', i.accept_due_at, 'resolve_due_at', i.resolve_due_at,
            'reported_at', i.reported_at, 'version', i.version) AS incident
    FROM incidents i LEFT JOIN operators o ON o.id = i.operator_id WHERE i.id = :id
    """
)


def _insert(session: Session, row, event: str, channel: str, target: str, payload: dict) -> int:
    return session.execute(
        text(
            "INSERT INTO notifications (incident_id, operator_id, event, channel, target,"
            " payload) VALUES (:i, :o, :e, :c, :t, CAST(:p AS jsonb)) RETURNING id"
        ),
        {
            "i": row["id"],
            "o": row["operator_id"],
            "e": event,
            "c": channel,
            "t": target,
            "p": json.dumps(payload, ensure_ascii=False, default=str),
        },
    ).scalar_one()


def enqueue_to(session: Session, incident_id: int, event: str, email: str, extra: dict) -> int:
    """Queue an e-mail about `event` to a person (a control centre's dispatcher, a reporter);
    `extra` goes into the payload under `event` (e.g. the escalation level)."""
    assert event in EVENTS, event
    row = session.execute(_INCIDENT, {"id": incident_id}).mappings().one()
    payload = {"event": event, "incident": row["incident"], event: extra}
    return _insert(session, row, event, "email", email, payload)


def enqueue(session: Session, incident_id: int, event: str) -> list[int]:
    """Queue the message about `event` to the incident's operator on each of its channels."""
    assert event in EVENTS, event
    row = session.execute(_INCIDENT, {"id": incident_id}).mappings().one_or_none()
    if row is None or row["operator_id"] is None:
        return []
    targets = [("email", row["dispatch_email"]), ("webhook", row["webhook_url"])]
    ids = []
    for channel, target in targets:
        if not target:
            continue
        payload = {"event": event, "incident": row["incident"]}
        ids.append(_insert(session, row, event, channel, target, payload))
    if not ids:
        _event(
            session,
            incident_id,
            {"event": event, "result": "no_contact"},
            f"{row['short_name']}: no e-mail and no webhook to notify",
        )
    return ids


def reporter_lines(settings: NotifySettings, payload: dict) -> list[str]:
    """The text of a message to the person who reported the incident (Russian, then English)."""
    inc, event = payload["incident"], payload["event"]
    extra = payload.get(event) or {}
    lines = [f"Ваше сообщение №{inc['id']}: {inc.get('address') or inc['description'][:80]}"]
    if event == "received":
        lines.append(
            f"Зарегистрировано под номером {inc['id']}. Your report's number is {inc['id']}."
        )
    elif event == "accepted":
        lines.append(f"Принято в работу: {inc.get('operator') or 'организация'}.")
        if extra.get("expected_at"):
            lines.append(f"Ожидаемое время устранения / expected: {extra['expected_at']}")
    elif event == "resolved":
        token = make_token(settings.secret_key, inc["id"], extra["resolve_event_id"])
        lines += [
            "Организация сообщила, что неисправность устранена. Подтвердите или откройте снова,",
            f"и оцените работу (1–5), по ссылке (действует {settings.feedback_days} дн.):",
            f"{settings.public_url}/feedback/{token}",
            "The operator reports it fixed: confirm or reopen it, and rate the work, at the link.",
        ]
    elif event == "closed":
        lines.append("Сообщение закрыто. Спасибо! / Your report is closed. Thank you!")
    return lines


def _email(settings: NotifySettings, target: str, payload: dict) -> None:
    inc = payload["incident"]
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = target
    msg["Subject"] = f"Инцидент №{inc['id']}: {SUBJECTS[payload['event']]}"
    lines = [
        f"Инцидент №{inc['id']} ({inc['utility']}, {inc['kind']}), приоритет {inc['priority']}",
        f"Статус: {inc['status']}",
        f"Адрес: {inc.get('address') or '—'}; координаты {inc['lat']:.6f}, {inc['lon']:.6f}",
        f"Описание: {inc['description']}",
        f"Почему вы: {inc.get('responsible_reason') or '—'}",
        f"Принять до: {inc.get('accept_due_at') or '—'}; устранить до: {inc.get('resolve_due_at') or '—'}",
    ]
    if payload["event"] in ("received", "accepted", "resolved", "closed"):
        lines = reporter_lines(settings, payload)
    escalation = payload.get("escalated")
    if escalation:
        lines.insert(
            0,
            f"Эскалация, уровень {escalation['level']}: "
            f"{TARGETS_RU.get(escalation['target'], escalation['target'])}; "
            f"истёк срок «{escalation['deadline']}».",
        )
    msg.set_content("\n".join(lines))
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s) as smtp:
        smtp.send_message(msg)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: hex HMAC-SHA256 of "<timestamp>." + body, keyed by the secret."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _webhook(
    settings: NotifySettings, url: str, secret: str | None, delivery: int, payload: dict
) -> None:
    body = json.dumps(payload, ensure_ascii=False, default=str).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "gis-app-webhook/1",
        "X-GisApp-Event": payload["event"],
        "X-GisApp-Delivery": str(delivery),
        "X-GisApp-Timestamp": stamp,
    }
    if secret:
        headers["X-GisApp-Signature"] = "sha256=" + sign(secret, stamp, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


def deliver_due(session: Session, settings: NotifySettings, limit: int = 100) -> dict[str, int]:
    """Send the notifications that are due; record each attempt. The caller commits."""
    rows = (
        session.execute(
            text(
                """
            SELECT n.id, n.incident_id, n.channel, n.target, n.payload, n.attempts,
                   o.webhook_secret
            FROM notifications n LEFT JOIN operators o ON o.id = n.operator_id
            WHERE n.status = 'pending' AND n.next_attempt_at <= now()
            ORDER BY n.next_attempt_at, n.id
            LIMIT :limit FOR UPDATE OF n SKIP LOCKED
            """
            ),
            {"limit": limit},
        )
        .mappings()
        .all()
    )
    counts = {"sent": 0, "retry": 0, "failed": 0}
    for n in rows:
        attempt = n["attempts"] + 1
        try:
            if n["channel"] == "email":
                _email(settings, n["target"], n["payload"])
            else:
                _webhook(settings, n["target"], n["webhook_secret"], n["id"], n["payload"])
            error = None
        except (OSError, smtplib.SMTPException, urllib.error.URLError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        if error is None:
            result = "sent"
            session.execute(
                text(
                    "UPDATE notifications SET status = 'sent', attempts = :a, sent_at = now(),"
                    " last_error = NULL WHERE id = :id"
                ),
                {"a": attempt, "id": n["id"]},
            )
        else:
            result = "failed" if attempt >= settings.max_attempts else "retry"
            session.execute(
                text(
                    "UPDATE notifications SET status = :s, attempts = :a, last_error = :e,"
                    " next_attempt_at = now() + make_interval(secs => :delay) WHERE id = :id"
                ),
                {
                    "s": "failed" if result == "failed" else "pending",
                    "a": attempt,
                    "e": error,
                    "delay": settings.delay(attempt).total_seconds(),
                    "id": n["id"],
                },
            )
        counts[result] += 1
        _event(
            session,
            n["incident_id"],
            {
                "notification_id": n["id"],
                "event": n["payload"]["event"],
                "channel": n["channel"],
                "target": n["target"],
                "attempt": attempt,
                "result": result,
                "error": error,
            },
            f"{n['channel']} → {n['target']}: {result}" + (f" ({error})" if error else ""),
        )
    return counts


def retry_failed(session: Session) -> int:
    """Put every failed notification back in the queue (after a receiver is fixed)."""
    return session.execute(
        text(
            "UPDATE notifications SET status = 'pending', next_attempt_at = now()"
            " WHERE status = 'failed'"
        )
    ).rowcount


def deliveries(session: Session, incident_id: int) -> list[dict]:
    """The notifications of an incident and their state."""
    rows = session.execute(
        text(
            "SELECT id, event, channel, target, status, attempts, last_error, created_at,"
            " next_attempt_at, sent_at FROM notifications WHERE incident_id = :id ORDER BY id"
        ),
        {"id": incident_id},
    ).mappings()
    return [dict(r) for r in rows]
