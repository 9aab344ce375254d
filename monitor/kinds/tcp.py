"""tcp: the host accepts a TCP connection on the port within the timeout."""

from monitor.kinds import _common

OPTIONS = {"host": "", "port": None}
SECRETS = frozenset()


def clean(options: dict) -> dict:
    _common.unknown_options(options, OPTIONS)
    host = _common.host(options.get("host"))
    port = _common.port(options.get("port"))
    _common.guarded(host, port)
    return {"host": host, "port": port}


def target(options: dict) -> str:
    return f"tcp://{_common.bracketed(options['host'])}:{options['port']}"
