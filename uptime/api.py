"""API-wide wiring: errors become clear 4xx answers, never a 500 with a traceback."""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


def exception_handler(exc, context):
    """DRF's handler, plus Django's ValidationError (raised by model rules) as 400."""
    if isinstance(exc, ObjectDoesNotExist):
        # A row deleted by another request while this one was working on it.
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoValidationError):
        return Response(as_serializer_error(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IntegrityError):
        # A unique constraint lost a race with another request.
        log.info("integrity error answered as 409: %s", exc)
        return Response(
            {"detail": "This conflicts with data stored meanwhile; reload and try again."},
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)
