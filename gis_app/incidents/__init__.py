"""The incident workflow: create, route, track to closure, deadlines, duplicates, notifications.

Every function takes the SQLAlchemy Session and, where a person acts, the `actor` Identity
(gis_app.access); views stay thin and the tests call these functions directly as well.
"""
