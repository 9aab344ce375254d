"""Every new account gets its personal project, however it was made.

Accounts are made by /setup, createsuperuser, the admin, invitations and
single sign-on; post_save of the user is the one place all of them pass.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver

from teams.services import personal_project_ensure


@receiver(post_save, sender=get_user_model(), dispatch_uid="teams-personal-project")
def give_new_user_a_project(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        personal_project_ensure(user=instance)
