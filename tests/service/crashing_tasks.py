"""A task that kills the process running it (loaded by case 3's worker only)."""

import os
import signal

from celery import shared_task


@shared_task(name="tests.service.crashing_tasks.crash_my_process")
def crash_my_process(runs_file: str) -> None:
    with open(runs_file, "a") as runs:
        runs.write(f"{os.getpid()}\n")
        runs.flush()
        os.fsync(runs.fileno())
    os.kill(os.getpid(), signal.SIGKILL)
