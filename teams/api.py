"""The teams API: projects, members, invitations, the audit log and the user's tokens.

One view class per operation, each a thin call into teams.services; classes
sharing a URL are combined at the end of the module, as in sites.api.
Another project's id answers 404 on every route (selectors), a role too
small for the action 403 (teams.access).
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sites.api import BAD_INPUT, FORBIDDEN
from teams.access import Action, require
from teams.models import ApiToken, Invitation, Membership, Project
from teams.selectors import AUDIT_PAGE_SIZE, audit_list, member_list, project_get, project_summaries
from teams.serializers import (
    AuditListInputSerializer,
    AuditListOutputSerializer,
    InvitationListOutputSerializer,
    InvitationSentOutputSerializer,
    MemberAddInputSerializer,
    MemberListOutputSerializer,
    MemberOutputSerializer,
    MemberUpdateInputSerializer,
    ProjectCreateInputSerializer,
    ProjectListOutputSerializer,
    ProjectOutputSerializer,
    ProjectUpdateInputSerializer,
    TokenCreatedOutputSerializer,
    TokenCreateInputSerializer,
    TokenListOutputSerializer,
    token_created_data,
)
from teams.services import (
    invitation_withdraw,
    member_add_or_invite,
    member_remove,
    member_set_role,
    project_create,
    project_delete,
    project_update,
)
from teams.tokens import token_create, token_revoke
from uptime.api import JSONParser


def _id_parameter(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, int, OpenApiParameter.PATH, description=what)


PROJECT_ID = _id_parameter("project_id", "The project's id.")
USER_ID = _id_parameter("user_id", "The member's user id.")
INVITATION_ID = _id_parameter("invitation_id", "The invitation's id.")
TOKEN_ID = _id_parameter("token_id", "The token's id.")
PROJECT_NOT_FOUND = OpenApiResponse(description="No project of yours has this id.")
NOT_FOUND = OpenApiResponse(description="No project of yours has this id, or it has no such row.")
MAX_ID_DIGITS = 19  # a 64-bit id


def get_project_or_404(
    request: Request, project_id: str, *, action: Action = Action.READ
) -> Project:
    """The user's project with this id (with its role and site count), or a 404.

    For an action beyond reading, the user's role must allow it (else 403).
    """
    try:
        project = project_get(user=request.user, project_id=project_id)
    except Project.DoesNotExist:
        raise NotFound(f"No project has the id {project_id!r}.") from None
    if action != Action.READ:
        require(user=request.user, project=project, action=action)
    return project


def _summary(request: Request, project: Project) -> Project:
    return project_summaries(user=request.user).get(pk=project.pk)


def _row_id(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        raise NotFound(f"No {what} has the id {text!r}.")
    return int(text)


def _member_or_404(project: Project, user_id: str) -> Membership:
    try:
        return member_list(project=project).get(user_id=_row_id(user_id, "member"))
    except Membership.DoesNotExist:
        raise NotFound(f"The project has no member with the user id {user_id!r}.") from None


class TeamsApiView(APIView):
    parser_classes = [JSONParser]


class ProjectListApi(TeamsApiView):
    @extend_schema(operation_id="project_list", responses={200: ProjectListOutputSerializer})
    def get(self, request: Request) -> Response:
        """Your projects, each with your role in it."""
        projects = project_summaries(user=request.user).order_by("id")
        return Response(ProjectListOutputSerializer({"projects": projects}).data)


class ProjectCreateApi(TeamsApiView):
    @extend_schema(
        operation_id="project_create",
        request=ProjectCreateInputSerializer,
        responses={201: ProjectOutputSerializer, 400: BAD_INPUT},
    )
    def post(self, request: Request) -> Response:
        """Make a project; you are its owner."""
        serializer = ProjectCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = project_create(user=request.user, request=request, **serializer.validated_data)
        data = ProjectOutputSerializer(_summary(request, project)).data
        return Response(data, status=status.HTTP_201_CREATED)


class ProjectGetApi(TeamsApiView):
    @extend_schema(
        operation_id="project_get",
        parameters=[PROJECT_ID],
        responses={200: ProjectOutputSerializer, 404: PROJECT_NOT_FOUND},
    )
    def get(self, request: Request, project_id: str) -> Response:
        """One of your projects."""
        project = get_project_or_404(request, project_id)
        return Response(ProjectOutputSerializer(_summary(request, project)).data)


class ProjectUpdateApi(TeamsApiView):
    @extend_schema(
        operation_id="project_update",
        parameters=[PROJECT_ID],
        request=ProjectUpdateInputSerializer,
        responses={
            200: ProjectOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: PROJECT_NOT_FOUND,
        },
    )
    def patch(self, request: Request, project_id: str) -> Response:
        """Rename the project or require 2FA of its members (admins and owners)."""
        project = get_project_or_404(request, project_id, action=Action.MANAGE_PROJECT)
        serializer = ProjectUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        project_update(
            project=project,
            actor=request.user,
            name=values.get("name"),
            require_2fa=values.get("require2fa"),
            request=request,
        )
        return Response(ProjectOutputSerializer(_summary(request, project)).data)


class ProjectDeleteApi(TeamsApiView):
    @extend_schema(
        operation_id="project_delete",
        parameters=[PROJECT_ID],
        responses={
            204: None,
            400: OpenApiResponse(description="A personal project cannot be deleted."),
            403: FORBIDDEN,
            404: PROJECT_NOT_FOUND,
        },
    )
    def delete(self, request: Request, project_id: str) -> Response:
        """Delete the project with its sites (owners only)."""
        project = get_project_or_404(request, project_id, action=Action.OWN_PROJECT)
        project_delete(project=project, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListApi(TeamsApiView):
    @extend_schema(
        operation_id="member_list",
        parameters=[PROJECT_ID],
        responses={200: MemberListOutputSerializer, 404: PROJECT_NOT_FOUND},
    )
    def get(self, request: Request, project_id: str) -> Response:
        """The project's members and their roles."""
        project = get_project_or_404(request, project_id)
        return Response(MemberListOutputSerializer({"members": member_list(project=project)}).data)


class MemberAddApi(TeamsApiView):
    @extend_schema(
        operation_id="member_add",
        parameters=[PROJECT_ID],
        request=MemberAddInputSerializer,
        responses={
            201: MemberOutputSerializer,
            202: InvitationSentOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: PROJECT_NOT_FOUND,
        },
    )
    def post(self, request: Request, project_id: str) -> Response:
        """Add an account by username or email (201), or email an invitation to a new address (202).

        Admins and owners; only owners may add an owner, and nobody is invited as owner.
        """
        project = get_project_or_404(request, project_id, action=Action.MANAGE_PROJECT)
        serializer = MemberAddInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = member_add_or_invite(
            project=project,
            actor=request.user,
            base_url=settings.UPTIME_BASE_URL,
            request=request,
            **serializer.validated_data,
        )
        if isinstance(result, Invitation):
            data = InvitationSentOutputSerializer({"invitation": result}).data
            return Response(data, status=status.HTTP_202_ACCEPTED)
        return Response(MemberOutputSerializer(result).data, status=status.HTTP_201_CREATED)


class MemberUpdateApi(TeamsApiView):
    @extend_schema(
        operation_id="member_update",
        parameters=[PROJECT_ID, USER_ID],
        request=MemberUpdateInputSerializer,
        responses={
            200: MemberOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def patch(self, request: Request, project_id: str, user_id: str) -> Response:
        """Change a member's role (admins and owners; only owners touch owners).

        {"role": "owner"} from an owner hands the project over: the member
        becomes owner and you become an admin. The last owner cannot step down.
        """
        project = get_project_or_404(request, project_id, action=Action.MANAGE_PROJECT)
        membership = _member_or_404(project, user_id)
        serializer = MemberUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = member_set_role(
            project=project,
            actor=request.user,
            user=membership.user,
            role=serializer.validated_data["role"],
            request=request,
        )
        return Response(MemberOutputSerializer(membership).data)


class MemberRemoveApi(TeamsApiView):
    @extend_schema(
        operation_id="member_remove",
        parameters=[PROJECT_ID, USER_ID],
        responses={
            204: None,
            400: OpenApiResponse(description="The last owner cannot leave."),
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def delete(self, request: Request, project_id: str, user_id: str) -> Response:
        """Remove a member (admins and owners), or leave the project yourself."""
        project = get_project_or_404(request, project_id)
        membership = _member_or_404(project, user_id)
        member_remove(project=project, actor=request.user, user=membership.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListApi(TeamsApiView):
    @extend_schema(
        operation_id="invitation_list",
        parameters=[PROJECT_ID],
        responses={200: InvitationListOutputSerializer, 403: FORBIDDEN, 404: PROJECT_NOT_FOUND},
    )
    def get(self, request: Request, project_id: str) -> Response:
        """The project's invitations, newest first (admins and owners)."""
        project = get_project_or_404(request, project_id, action=Action.MANAGE_PROJECT)
        invitations = project.invitations.select_related("invited_by").order_by("-id")
        return Response(InvitationListOutputSerializer({"invitations": invitations}).data)


class InvitationRevokeApi(TeamsApiView):
    @extend_schema(
        operation_id="invitation_revoke",
        parameters=[PROJECT_ID, INVITATION_ID],
        responses={
            204: None,
            400: OpenApiResponse(description="The invitation has been accepted already."),
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def delete(self, request: Request, project_id: str, invitation_id: str) -> Response:
        """Revoke an invitation: its link stops working (admins and owners)."""
        project = get_project_or_404(request, project_id, action=Action.MANAGE_PROJECT)
        try:
            invitation = project.invitations.get(pk=_row_id(invitation_id, "invitation"))
        except Invitation.DoesNotExist:
            raise NotFound(f"The project has no invitation {invitation_id!r}.") from None
        invitation_withdraw(invitation=invitation, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditListApi(TeamsApiView):
    @extend_schema(
        operation_id="audit_list",
        parameters=[PROJECT_ID, AuditListInputSerializer],
        responses={
            200: AuditListOutputSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: PROJECT_NOT_FOUND,
        },
    )
    def get(self, request: Request, project_id: str) -> Response:
        """The project's audit log, newest first, 100 events a page (admins and owners).

        Also the logins and failed logins of its current members.
        """
        project = get_project_or_404(request, project_id, action=Action.MANAGE_PROJECT)
        query = AuditListInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = audit_list(project=project, before=query.validated_data.get("before"))
        full = len(events) == AUDIT_PAGE_SIZE
        data = {"events": events, "nextBefore": events[-1].pk if full else None}
        return Response(AuditListOutputSerializer(data).data)


class TokenListApi(TeamsApiView):
    @extend_schema(operation_id="token_list", responses={200: TokenListOutputSerializer})
    def get(self, request: Request) -> Response:
        """Your API tokens; their keys are never shown again."""
        tokens = ApiToken.objects.filter(user=request.user).order_by("id")
        return Response(TokenListOutputSerializer({"tokens": tokens}).data)


class TokenCreateApi(TeamsApiView):
    @extend_schema(
        operation_id="token_create",
        request=TokenCreateInputSerializer,
        responses={201: TokenCreatedOutputSerializer, 400: BAD_INPUT, 403: FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        """Make an API token; its key is in this answer only."""
        serializer = TokenCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = token_create(
            user=request.user,
            name=serializer.validated_data["name"],
            read_only=serializer.validated_data["readOnly"],
            expires_at=serializer.expires_at(),
            request=request,
        )
        return Response(token_created_data(token, key), status=status.HTTP_201_CREATED)


class TokenRevokeApi(TeamsApiView):
    @extend_schema(
        operation_id="token_revoke",
        parameters=[TOKEN_ID],
        responses={
            204: None,
            403: FORBIDDEN,
            404: OpenApiResponse(description="You have no token with this id."),
        },
    )
    def delete(self, request: Request, token_id: str) -> Response:
        """Revoke one of your tokens: it stops working at once."""
        try:
            token = ApiToken.objects.get(user=request.user, pk=_row_id(token_id, "token"))
        except ApiToken.DoesNotExist:
            raise NotFound(f"You have no token with the id {token_id!r}.") from None
        token_revoke(token=token, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectCollectionApi(ProjectListApi, ProjectCreateApi):
    """/api/projects: GET lists your projects, POST makes one."""


class ProjectDetailApi(ProjectGetApi, ProjectUpdateApi, ProjectDeleteApi):
    """/api/projects/<id>: GET shows, PATCH changes, DELETE removes."""


class MemberCollectionApi(MemberListApi, MemberAddApi):
    """/api/projects/<id>/members: GET lists, POST adds or invites."""


class MemberDetailApi(MemberUpdateApi, MemberRemoveApi):
    """/api/projects/<id>/members/<userId>: PATCH changes the role, DELETE removes."""


class TokenCollectionApi(TokenListApi, TokenCreateApi):
    """/api/tokens: GET lists your tokens, POST makes one."""
