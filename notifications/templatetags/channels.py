"""Template filters for channels."""

from django import template

from notifications.transports import KINDS

register = template.Library()


@register.filter
def kind_label(kind: str) -> str:
    """A channel kind as people know it ("Microsoft Teams"), from the transports' registry."""
    return KINDS.get(kind, kind)
