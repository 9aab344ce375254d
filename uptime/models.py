from django.db import models
from django.utils import timezone


class TaskRedelivery(models.Model):
    """A Celery message that came back after the worker running it died.

    Written only for redelivered messages (never on the normal path), so a
    message that kills every worker that takes it is given up after
    uptime.reliability.MAX_REDELIVERIES instead of circling forever.
    """

    # The task id and its retry number: a planned retry is a new message.
    key = models.CharField(max_length=100, primary_key=True)
    task_name = models.CharField(max_length=200)
    redeliveries = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "task redeliveries"

    def __str__(self) -> str:
        return f"{self.task_name} {self.key}: {self.redeliveries}"
