"""A tiny OpenID Connect provider (django-oauth-toolkit) that tests/accounts/test_sso.py runs as a second process."""
