"""Identity and accounts: who a user is and what their role allows (identity.py), users and API
tokens (users.py), passwords and their changes (passwords.py), and the limits on failed logins
(login_limits.py)."""
