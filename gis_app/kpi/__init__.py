"""Accountability figures: KPIs of operators, utilities and municipalities from incident events."""
