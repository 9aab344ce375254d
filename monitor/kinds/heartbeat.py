"""heartbeat: placeholder until its helper's work is merged (issue 10)."""

OPTIONS: dict = {}
SECRETS = frozenset()


def clean(options: dict) -> dict:
    raise NotImplementedError("heartbeat monitors are not built yet")


def target(options: dict) -> str:
    raise NotImplementedError("heartbeat monitors are not built yet")
