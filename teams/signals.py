"""Receivers on the user model: what every way of changing an account must trigger.

Accounts are made and changed by /setup, createsuperuser, the admin,
invitations, password forms and single sign-on; the user's save is the one
place all of them pass.
"""

import logging

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from teams.models import ApiToken
from teams.services import personal_project_ensure

log = logging.getLogger(__name__)
User = get_user_model()


@receiver(post_save, sender=User, dispatch_uid="teams-personal-project")
def give_new_user_a_project(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        personal_project_ensure(user=instance)


@receiver(pre_save, sender=User, dispatch_uid="teams-note-credential-change")
def note_credential_change(sender, instance, raw: bool = False, update_fields=None, **kwargs):
    """Note whether this save changes the password or deactivates the account.

    A token must not outlive the password that its owner may have changed
    because it leaked, nor an account an admin switched off.
    """
    instance._revoke_tokens_reason = ""
    if raw or instance.pk is None:
        return
    before = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["is_active"] and not instance.is_active:
        instance._revoke_tokens_reason = "the account was deactivated"
    elif before["password"] != instance.password and not _is_rehash(instance, update_fields):
        instance._revoke_tokens_reason = "the password changed"


def _is_rehash(instance, update_fields) -> bool:
    # check_password() re-hashes a correct password when the hasher's settings
    # changed, and saves only the password with the raw one already forgotten:
    # the same password, so the tokens stay.
    return instance._password is None and set(update_fields or ()) == {"password"}


@receiver(post_save, sender=User, dispatch_uid="teams-revoke-tokens")
def revoke_tokens_on_credential_change(sender, instance, created: bool, **kwargs) -> None:
    reason = getattr(instance, "_revoke_tokens_reason", "")
    if created or not reason:
        return
    revoked, _ = ApiToken.objects.filter(user=instance).delete()
    if revoked:
        log.info("revoked %d API token(s) of %s: %s", revoked, instance.get_username(), reason)
    instance._revoke_tokens_reason = ""
