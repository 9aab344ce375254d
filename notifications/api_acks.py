"""POST /api/site/<id>/ack: acknowledge a down monitor (reminders and escalation stop).

A site that is not down answers 409 Conflict, not 400: the request is well
formed, it is the site's current state that leaves nothing to acknowledge.
"""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.acks import acknowledgement_ensure
from notifications.models import Acknowledgement
from sites.api import FORBIDDEN, NOT_FOUND, SITE_ID_PARAMETER, get_site_or_404
from teams.access import Action
from uptime.api import JSONParser


class AcknowledgementOutputSerializer(serializers.Serializer):
    acknowledgedBy = serializers.CharField(source="by_name")
    acknowledgedAt = serializers.DateTimeField(source="at")
    via = serializers.ChoiceField(choices=Acknowledgement.Via.choices)


class NotDownSerializer(serializers.Serializer):
    detail = serializers.CharField()


class SiteAckApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="site_ack",
        parameters=[SITE_ID_PARAMETER],
        request=None,
        responses={
            201: AcknowledgementOutputSerializer,
            200: OpenApiResponse(
                AcknowledgementOutputSerializer,
                description="Already acknowledged: the first acknowledgement, unchanged.",
            ),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(NotDownSerializer, description="The site is not down."),
        },
    )
    def post(self, request: Request, site_id: str) -> Response:
        """Acknowledge a down site: reminders and escalation stop; recovery is still announced."""
        site = get_site_or_404(request, site_id, action=Action.EDIT_MONITORS)
        try:
            ack, created = acknowledgement_ensure(
                site=site, actor=request.user, via=Acknowledgement.Via.API, request=request
            )
        except ValidationError as exc:
            return Response({"detail": exc.messages[0]}, status=status.HTTP_409_CONFLICT)
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(AcknowledgementOutputSerializer(ack).data, status=answer)
