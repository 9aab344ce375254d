"""Sign-ins, sign-outs and failed sign-ins are in the audit log, with the address."""

from django.urls import reverse

from teams.models import AuditEvent


def test_a_login_and_a_logout_are_recorded_with_the_address(client, user):
    client.post(
        reverse("login"), {"login": "alice", "password": "s3cret-pass"}, REMOTE_ADDR="203.0.113.9"
    )
    client.post(reverse("logout"), REMOTE_ADDR="203.0.113.9")

    events = list(
        AuditEvent.objects.order_by("id").values_list("action", "actor", "address", "project")
    )
    assert events == [
        ("account.login", user.pk, "203.0.113.9", None),
        ("account.logout", user.pk, "203.0.113.9", None),
    ]


def test_a_failed_login_records_the_name_typed_and_never_the_password(client, user):
    client.post(reverse("login"), {"login": "alice", "password": "guess-1"})
    client.post(reverse("login"), {"login": "nobody", "password": "guess-2"})

    failed = AuditEvent.objects.filter(action="account.login_failed").order_by("id")
    assert [(e.actor_name, e.actor_id) for e in failed] == [("alice", None), ("nobody", None)]
    assert "guess" not in str(list(failed.values()))


def test_a_password_change_is_recorded(client, user):
    client.post(reverse("login"), {"login": "alice", "password": "s3cret-pass"})

    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": "s3cret-pass",
            "password1": "amber-quarry-64",
            "password2": "amber-quarry-64",
        },
    )

    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="account.password_changed", actor=user).exists()
    user.refresh_from_db()
    assert user.check_password("amber-quarry-64")
