"""Checks shared by the kind modules' clean()."""

from django.core.exceptions import ValidationError

from sites.targets import clean_host, validate_host_address


def unknown_options(options: dict, accepted) -> None:
    extra = sorted(set(options) - set(accepted))
    if extra:
        raise ValidationError(
            {name: ["This field does not apply to this kind of monitor."] for name in extra}
        )


def port(value, field: str = "port") -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError({field: ["A port is a whole number from 1 to 65535."]})
    try:
        number = int(value)
    except ValueError:
        raise ValidationError({field: ["A port is a whole number from 1 to 65535."]}) from None
    if not 1 <= number <= 65535:
        raise ValidationError({field: [f"{number} is not a port: use 1 to 65535."]})
    return number


def host(value, field: str = "host") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({field: ["A host name or IP address is required."]})
    try:
        return clean_host(value.strip())
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


def whole_number(value, field: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: [f"A whole number from {low} to {high}."]})
    if not low <= value <= high:
        raise ValidationError({field: [f"{value} is out of range: use {low} to {high}."]})
    return value


def guarded(host_name: str, port_number: int, field: str = "host") -> None:
    """The private-address guard, with the error on `field`."""
    try:
        validate_host_address(host_name, port_number)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


def bracketed(host: str) -> str:
    """An IPv6 address in brackets, as in a URL or a target string."""
    return f"[{host}]" if ":" in host else host
