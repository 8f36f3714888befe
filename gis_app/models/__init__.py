"""The data model, one module per aggregate over base.py; every class is importable from here."""

from gis_app.models.accounts import ROLES, ApiToken, LoginFailure, User, user_municipalities
from gis_app.models.addresses import (
    ADDRESS_KINDS,
    Address,
    AddressGeneration,
    AddressName,
    AddressStreet,
)
from gis_app.models.base import Base
from gis_app.models.changes import AdminChange
from gis_app.models.incidents import (
    INCIDENT_KINDS,
    INCIDENT_STATUSES,
    NOTIFICATION_CHANNELS,
    NOTIFICATION_STATUSES,
    DeadlineRule,
    Incident,
    IncidentEvent,
    Notification,
    PlannedOutage,
)
from gis_app.models.kpi import (
    ESCALATION_TARGETS,
    EscalationRule,
    IncidentKpiFacts,
    IncidentTerms,
    KpiSummary,
)
from gis_app.models.networks import NetworkFeature, ServingRevision
from gis_app.models.operators import (
    DesignatedOperator,
    Operator,
    ServiceArea,
    operator_municipalities,
    operator_utilities,
)
from gis_app.models.places import MUNICIPALITY_KINDS, Municipality, Utility
from gis_app.models.records import EDIT_ACTIONS, IMPORT_MODES, FeatureEdit, Import
from gis_app.models.topology import ConsumerSupply, NetworkDependency, NetworkLink, NetworkNode

__all__ = [
    "ADDRESS_KINDS",
    "Address",
    "AddressGeneration",
    "AddressName",
    "AddressStreet",
    "AdminChange",
    "ESCALATION_TARGETS",
    "EscalationRule",
    "IncidentKpiFacts",
    "IncidentTerms",
    "KpiSummary",
    "EDIT_ACTIONS",
    "IMPORT_MODES",
    "INCIDENT_KINDS",
    "INCIDENT_STATUSES",
    "MUNICIPALITY_KINDS",
    "NOTIFICATION_CHANNELS",
    "NOTIFICATION_STATUSES",
    "ROLES",
    "ApiToken",
    "ConsumerSupply",
    "NetworkDependency",
    "NetworkLink",
    "NetworkNode",
    "Base",
    "DeadlineRule",
    "DesignatedOperator",
    "FeatureEdit",
    "Import",
    "Incident",
    "IncidentEvent",
    "LoginFailure",
    "Municipality",
    "NetworkFeature",
    "Notification",
    "Operator",
    "PlannedOutage",
    "ServiceArea",
    "ServingRevision",
    "User",
    "Utility",
    "operator_municipalities",
    "operator_utilities",
    "user_municipalities",
]
