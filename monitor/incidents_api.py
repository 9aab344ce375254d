"""The incidents API: a site's downtimes, and notes on them.

Thin views over monitor.incidents. Another project's site answers 404, a
viewer's note 403 (editors and up may write: Action.EDIT_MONITORS).
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.incidents import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Incident,
    incident_get,
    incident_list,
    note_add,
)
from monitor.models import IncidentNote, Transition
from sites.api import BAD_INPUT, FORBIDDEN, NOT_FOUND, SITE_ID_PARAMETER, get_site_or_404
from sites.serializers import StrictInputSerializer
from teams.access import Action
from uptime.api import JSONParser

TRANSITION_ID = OpenApiParameter(
    "transition_id",
    int,
    OpenApiParameter.PATH,
    description="The incident's id: the id of the transition to down that started it.",
)


class IncidentQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000)


class NoteInputSerializer(StrictInputSerializer):
    # Length and blankness are monitor.incidents.note_add's rules; the
    # serializer only insists on a string.
    text = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=100_000)


class NoteOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField()
    text = serializers.CharField()
    createdAt = serializers.DateTimeField()


class IncidentAcknowledgementOutputSerializer(serializers.Serializer):
    by = serializers.CharField()
    at = serializers.DateTimeField()
    via = serializers.CharField()


class IncidentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The transition to down that started it.")
    startedAt = serializers.DateTimeField()
    endedAt = serializers.DateTimeField(allow_null=True, help_text="null: still down.")
    durationSeconds = serializers.FloatField(help_text="So far, for one still going on.")
    reason = serializers.CharField(help_text='What the failing check said; "—" once pruned.')
    acknowledgement = IncidentAcknowledgementOutputSerializer(allow_null=True)
    notes = NoteOutputSerializer(many=True)


class IncidentListOutputSerializer(serializers.Serializer):
    incidents = IncidentOutputSerializer(many=True)
    more = serializers.BooleanField(help_text="Older incidents are left (ask with offset).")


def note_data(note: IncidentNote) -> dict:
    return {
        "id": note.pk,
        "author": note.author_name,
        "text": note.text,
        "createdAt": note.created_at,
    }


def incident_data(incident: Incident, now) -> dict:
    ack = incident.acknowledgement
    return {
        "id": incident.id,
        "startedAt": incident.started_at,
        "endedAt": incident.ended_at,
        "durationSeconds": incident.duration(now).total_seconds(),
        "reason": incident.reason,
        "acknowledgement": {"by": ack.by_name, "at": ack.at, "via": ack.via} if ack else None,
        "notes": [note_data(note) for note in incident.notes],
    }


class IncidentApiView(APIView):
    parser_classes = [JSONParser]


class IncidentListApi(IncidentApiView):
    @extend_schema(
        operation_id="incident_list",
        parameters=[SITE_ID_PARAMETER, IncidentQuerySerializer],
        responses={200: IncidentListOutputSerializer, 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def get(self, request: Request, site_id: str) -> Response:
        """The site's downtimes, newest first, with acknowledgement and notes."""
        site = get_site_or_404(request, site_id)
        query = IncidentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data.get("limit", DEFAULT_LIMIT)
        offset = query.validated_data.get("offset", 0)
        incidents, more = incident_list(site, limit=limit, offset=offset)
        now = timezone.now()
        data = {"incidents": [incident_data(i, now) for i in incidents], "more": more}
        return Response(IncidentListOutputSerializer(data).data)


class IncidentNoteCreateApi(IncidentApiView):
    @extend_schema(
        operation_id="incident_note_create",
        parameters=[SITE_ID_PARAMETER, TRANSITION_ID],
        request=NoteInputSerializer,
        responses={
            201: NoteOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: OpenApiResponse(
                description="No site of yours, or no incident of it, has this id."
            ),
        },
    )
    def post(self, request: Request, site_id: str, transition_id: str) -> Response:
        """Add a note to an incident (editors and above); 1 to 2,000 characters."""
        site = get_site_or_404(request, site_id, action=Action.EDIT_MONITORS)
        try:
            transition = incident_get(site, transition_id)
        except Transition.DoesNotExist:
            raise NotFound(f"The site has no incident with the id {transition_id!r}.") from None
        serializer = NoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # note_add's ValidationError is a 400 naming "text" (uptime.api.exception_handler).
        note = note_add(
            site=site,
            transition=transition,
            author=request.user,
            text=serializer.validated_data["text"],
        )
        return Response(NoteOutputSerializer(note_data(note)).data, status=status.HTTP_201_CREATED)
