"""A task for tests/test_broker.py's real worker: it leaves a file behind."""

from pathlib import Path

from celery import shared_task


@shared_task(name="tests.broker_tasks.touch")
def touch(path: str) -> None:
    Path(path).write_text("ran")
