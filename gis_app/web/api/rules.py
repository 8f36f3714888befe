"""The rules an admin edits: the escalation ladder and the deadline rules, each with its legal
source. An edit retires the rule it replaces; incidents keep the rules they were created under."""

from __future__ import annotations

from flask import request

from gis_app.db import get_session
from gis_app.incidents import rules
from gis_app.web.access import current_identity, require_role
from gis_app.web.api import api


@api.get("/escalation-rules")
def escalation_rules():
    """The ladder's steps in force (all=true: retired ones too)."""
    current_identity()
    everything = request.args.get("all") == "true"
    return {"rules": rules.list_escalation_rules(get_session(), include_retired=everything)}


@api.post("/escalation-rules")
def escalation_rule_put():
    """Add a step for (utility, priority, level), retiring the one it replaces (admins)."""
    actor = require_role("admin")
    session = get_session()
    rule = rules.put_escalation_rule(session, actor.username, request.get_json(silent=True))
    session.commit()
    return rule, 201


@api.delete("/escalation-rules/<int:rule_id>")
def escalation_rule_retire(rule_id: int):
    """Retire a step (admins); incidents already created keep it."""
    require_role("admin")
    session = get_session()
    rules.retire_rule(session, "escalation_rules", rule_id)
    session.commit()
    return "", 204


@api.post("/deadline-rules")
def deadline_rule_put():
    """Add a deadline rule, retiring the one with the same key it replaces (admins)."""
    actor = require_role("admin")
    session = get_session()
    rule = rules.put_deadline_rule(session, actor.username, request.get_json(silent=True))
    session.commit()
    return rule, 201


@api.delete("/deadline-rules/<int:rule_id>")
def deadline_rule_retire(rule_id: int):
    """Retire a deadline rule (admins)."""
    require_role("admin")
    session = get_session()
    rules.retire_rule(session, "deadline_rules", rule_id)
    session.commit()
    return "", 204
