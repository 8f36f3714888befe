"""The reporter's page (no account): confirm a fix or reopen it with a comment, rate it 1–5.
Reached by the signed, expiring link of the "resolved" e-mail; Russian first (?lang=en)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from gis_app.db import get_session
from gis_app.errors import AppError
from gis_app.incidents import feedback
from gis_app.incidents.tokens import read_token
from gis_app.web.access import public

bp = Blueprint("feedback", __name__)

STRINGS = {
    "ru": {
        "title": "Сообщение №{id}",
        "sub": "Организация сообщила, что неисправность устранена.",
        "status": "Статус",
        "operator": "Организация",
        "confirm": "Да, исправлено",
        "reopen": "Нет, проблема осталась",
        "comment": "Комментарий (обязателен, если проблема осталась)",
        "rating": "Оценка работы",
        "none": "без оценки",
        "send": "Отправить",
        "thanks": "Спасибо! Ваш ответ записан.",
        "answered": "Ответ по этому исправлению уже получен.",
        "stale": "С тех пор сообщение изменилось; эта ссылка больше не действует.",
        "other": "English",
    },
    "en": {
        "title": "Report No. {id}",
        "sub": "The operator reports the problem fixed.",
        "status": "Status",
        "operator": "Operator",
        "confirm": "Yes, it is fixed",
        "reopen": "No, the problem remains",
        "comment": "Comment (required if the problem remains)",
        "rating": "Rate the work",
        "none": "no rating",
        "send": "Send",
        "thanks": "Thank you! Your answer is recorded.",
        "answered": "An answer about this fix has already been given.",
        "stale": "The report has moved on since; this link no longer applies.",
        "other": "Русский",
    },
}


def _ids(token: str) -> tuple[int, int]:
    days = int(current_app.config["GIS_APP_FEEDBACK_DAYS"])
    return read_token(str(current_app.config["SECRET_KEY"]), token, days)


def _page(token: str, status: int = 200, error: str | None = None, done: bool = False):
    lang = "en" if request.args.get("lang") == "en" else "ru"
    incident_id, event_id = _ids(token)
    state = feedback.feedback_state(get_session(), incident_id, event_id)
    html = render_template(
        "feedback.html",
        s=STRINGS[lang],
        lang=lang,
        token=token,
        state=state,
        error=error,
        done=done,
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.get("/feedback/<token>")
@public
def feedback_page(token: str):
    """The incident, and the form to confirm or reopen it."""
    return _page(token)


@bp.post("/feedback/<token>")
@public
def feedback_post(token: str):
    """Record the answer; the page again, with thanks or the reason it was refused."""
    incident_id, event_id = _ids(token)
    session = get_session()
    try:
        feedback.give_feedback(session, incident_id, event_id, request.form.to_dict())
    except AppError as exc:
        session.rollback()
        if exc.status >= 404 and exc.status != 409:
            raise
        return _page(token, exc.status, error=exc.message)
    session.commit()
    return _page(token, done=True)
