"""A tiny OpenID Connect provider (django-oauth-toolkit).

tests/accounts/test_sso.py runs it as a second process.
"""
