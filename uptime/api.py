"""API-wide wiring: errors become clear 4xx answers, never a 500 with a traceback."""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import parsers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from uptime.throttling import throttle_refused_credentials

log = logging.getLogger(__name__)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering a body nested too deeply to parse with a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json.loads recurses once per nesting level, so "[[[[..." a few
            # thousand deep exhausts the stack; DRF only catches ValueError.
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


def camel_case(field: str) -> str:
    """A model field's name as the API spells it ("retry_interval" → "retryInterval")."""
    if field == api_settings.NON_FIELD_ERRORS_KEY:
        return field
    head, *rest = field.split("_")
    return head + "".join(part.capitalize() for part in rest)


def exception_handler(exc, context):
    """DRF's handler, plus Django's ValidationError (raised by model rules) as 400."""
    if isinstance(exc, ObjectDoesNotExist):
        # A row deleted by another request while this one was working on it.
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoValidationError):
        errors = {
            camel_case(field): messages for field, messages in as_serializer_error(exc).items()
        }
        return Response(errors, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IntegrityError):
        # A unique constraint lost a race with another request.
        log.info("integrity error answered as 409: %s", exc)
        return Response(
            {"detail": "This conflicts with data stored meanwhile; reload and try again."},
            status=status.HTTP_409_CONFLICT,
        )
    exc = throttle_refused_credentials(exc, context.get("request"), context.get("view"))
    return drf_exception_handler(exc, context)
