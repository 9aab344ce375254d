"""First run: /setup creates the first account, a superuser, and only that one."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from sites.forms import FirstAdminForm
from teams.models import Project, Role

pytestmark = pytest.mark.django_db

GOOD = {"username": "admin", "password1": "kestrel-orbit-42", "password2": "kestrel-orbit-42"}


@pytest.mark.parametrize("name", ["dashboard", "login", "site_list"])
def test_with_no_account_yet_the_pages_lead_to_setup(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"] == reverse("setup")


def test_the_setup_page_offers_the_first_account_form(client):
    response = client.get(reverse("setup"))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="username"' in page
    assert 'name="password1"' in page
    assert 'name="password2"' in page


def test_setup_creates_a_superuser_and_logs_them_in(client):
    response = client.post(reverse("setup"), GOOD)

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    admin = get_user_model().objects.get()
    assert admin.username == "admin"
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password("kestrel-orbit-42")
    assert client.get(reverse("dashboard")).status_code == 200


def test_the_first_account_owns_its_project_and_adopts_sites_added_before_it(client):
    """`manage.py add_site` before any account puts the site in "Default"; the
    first account made by /setup owns that project and sees the site."""
    call_command("add_site", "http://127.0.0.1:9/early", verbosity=0)

    client.post(reverse("setup"), GOOD)

    admin = get_user_model().objects.get()
    project = Project.objects.get()
    assert project.personal_of == admin
    assert project.memberships.get().user == admin
    assert project.memberships.get().role == Role.OWNER
    assert "http://127.0.0.1:9/early" in client.get(reverse("dashboard")).content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**GOOD, "password2": "something-else-42"}, "password2"),
        ({**GOOD, "password1": "12345678", "password2": "12345678"}, "password2"),
        ({**GOOD, "password1": "short", "password2": "short"}, "password2"),
        ({**GOOD, "username": ""}, "username"),
    ],
)
def test_setup_applies_the_password_validators_and_creates_nothing(client, data, field):
    response = client.post(reverse("setup"), data)

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not get_user_model().objects.exists()


def test_once_an_account_exists_setup_is_gone(client, user):
    assert client.get(reverse("setup")).status_code == 404


def test_once_an_account_exists_setup_cannot_create_another(client, user):
    response = client.post(reverse("setup"), GOOD)

    assert response.status_code == 404
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]


def test_a_setup_form_filled_before_another_admin_appeared_creates_nothing(client):
    client.get(reverse("setup"))
    get_user_model().objects.create_user(username="first", password="x")

    response = client.post(reverse("setup"), GOOD)

    assert response.status_code == 404
    assert get_user_model().objects.count() == 1


def test_the_form_refuses_to_save_when_a_user_appeared_after_validation(client):
    form = FirstAdminForm(GOOD)
    assert form.is_valid()
    get_user_model().objects.create_user(username="racer", password="x")

    assert form.save() is None
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["racer"]
