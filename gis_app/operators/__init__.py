"""Operators: who answers for a point and a utility, and why (responsible.py); the directory of
operators, what they serve and their contacts (directory.py)."""
