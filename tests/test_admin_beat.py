"""The admin shows django-celery-beat's schedule but cannot change it: the
schedule lives in CELERY_BEAT_SCHEDULE, and an edit could stop the dispatcher."""

import pytest
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

TASKS = reverse("admin:django_celery_beat_periodictask_changelist")


@pytest.fixture
def dispatch_task(db):
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    return PeriodicTask.objects.create(
        name="dispatch-due-checks", task="monitor.tasks.dispatch_due_checks", interval=every_second
    )


def test_a_superuser_sees_the_periodic_tasks(admin_client, dispatch_task):
    response = admin_client.get(TASKS)

    assert response.status_code == 200
    assert "dispatch-due-checks" in response.text


def test_a_periodic_task_opens_read_only(admin_client, dispatch_task):
    url = reverse("admin:django_celery_beat_periodictask_change", args=[dispatch_task.id])

    response = admin_client.get(url)

    assert response.status_code == 200
    assert 'name="_save"' not in response.text
    assert 'name="enabled"' not in response.text


def test_a_periodic_task_cannot_be_changed(admin_client, dispatch_task):
    url = reverse("admin:django_celery_beat_periodictask_change", args=[dispatch_task.id])

    response = admin_client.post(url, {"name": "dispatch-due-checks", "enabled": ""})

    assert response.status_code == 403
    assert PeriodicTask.objects.get().enabled


def test_the_list_offers_no_actions(admin_client, dispatch_task):
    response = admin_client.post(
        TASKS, {"action": "disable_tasks", "_selected_action": [dispatch_task.id]}, follow=True
    )

    assert 'name="action"' not in response.text
    assert PeriodicTask.objects.get().enabled


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:django_celery_beat_periodictask_add",
        "admin:django_celery_beat_intervalschedule_add",
        "admin:django_celery_beat_crontabschedule_add",
        "admin:django_celery_beat_solarschedule_add",
        "admin:django_celery_beat_clockedschedule_add",
    ],
)
def test_nothing_can_be_added_to_the_schedule(admin_client, db, url_name):
    assert admin_client.get(reverse(url_name)).status_code == 403


def test_a_periodic_task_cannot_be_deleted(admin_client, dispatch_task):
    url = reverse("admin:django_celery_beat_periodictask_delete", args=[dispatch_task.id])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert PeriodicTask.objects.filter(id=dispatch_task.id).exists()
