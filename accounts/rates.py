"""django-allauth's rate-limit strings from Uptime's settings.

No Django imports: uptime.settings imports this module.
"""


def account_rate_limits(
    *, failures_per_user: int, failures_per_ip: int, window_minutes: int
) -> dict:
    """ACCOUNT_RATE_LIMITS: one failed-sign-in policy for every way in.

    "login_failed" counts failed passwords on the login form (admin login
    included, it is the same form), /setup and 2FA codes: per address, and per
    key, which is the username typed at this address (accounts.adapter) or the
    account for 2FA codes. allauth answers a full counter before checking
    anything. The other actions keep allauth's defaults, written out here so
    they are one place to read: password reset requests, sign-ups (open or by
    invitation) and password changes are limited per address, key or user.
    """
    window = f"{window_minutes}m"
    return {
        "login_failed": f"{failures_per_ip}/{window}/ip,{failures_per_user}/{window}/key",
        "login": "30/m/ip",
        "reset_password": "20/m/ip,5/m/key",
        "reset_password_from_key": "20/m/ip",
        "signup": "20/m/ip",
        "change_password": "5/m/user",
        "reauthenticate": "10/m/user",
    }
