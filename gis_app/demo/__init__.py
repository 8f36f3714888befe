"""Demo data: invented but plausible networks of four towns of Leningrad Oblast.

Everything here is generated deterministically by this package and marked as demo (is_demo, names
starting «ДЕМО», e-mail addresses under .invalid). No real operator's name or network is used.
"""
