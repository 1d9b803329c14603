"""API v1: teams, users (read) and the caller's own API tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from portal import people
from portal.errors import NotAllowed
from portal.fields import CleanCharField, CleanTextModelSerializer
from portal.http import api_user
from portal.models import ApiToken, OrgRole, Team, TokenScope, display_name, has_role, role_of

if TYPE_CHECKING:
    from django.contrib.auth.models import User as AuthUser

User = get_user_model()


class TeamSerializer(CleanTextModelSerializer):
    members: serializers.SlugRelatedField[AuthUser] = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "slug", "name", "description", "members"]


class UserSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()
    teams: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "name", "role", "teams"]

    def get_name(self, user: Any) -> str:
        return display_name(user)

    def get_role(self, user: Any) -> str:
        return role_of(user) or OrgRole.VIEWER


class TokenSerializer(serializers.ModelSerializer):
    prefix = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_prefix(self, token: ApiToken) -> str:
        return f"ipt_{token.key_id}_"


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(help_text="The full token. It is shown once and never again.")

    class Meta(TokenSerializer.Meta):
        fields = TokenSerializer.Meta.fields + ["token"]


class TokenInput(serializers.Serializer):
    name = CleanCharField(max_length=120)
    scope = serializers.ChoiceField(choices=TokenScope.choices, default=TokenScope.READ)


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Team.objects.prefetch_related("members")
    serializer_class = TeamSerializer
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"  # only what a SlugField holds reaches the query


class PersonSerializer(UserSerializer):
    """What a manager sees of an account they changed."""

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "email", "is_active"]


class PersonChangeInput(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = CleanCharField(max_length=150, required=False, allow_blank=True)
    last_name = CleanCharField(max_length=150, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=OrgRole.choices, required=False)
    teams = serializers.ListField(child=serializers.SlugField(max_length=50), required=False, max_length=100)
    is_active = serializers.BooleanField(required=False)


class PersonCreateInput(PersonChangeInput):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    invite = serializers.BooleanField(default=False, help_text="Email an invitation with a link to choose a password.")
    is_active = None  # type: ignore[assignment]


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Everyone reads the active people; managers create, change, deactivate and invite."""

    serializer_class = UserSerializer
    write_role = OrgRole.MANAGER

    def get_queryset(self) -> QuerySet[Any]:
        qs = User.objects.select_related("membership").prefetch_related("teams").order_by("username")
        return qs if self.action != "list" or has_role(self.request.user, OrgRole.MANAGER) and self.request.query_params.get("active") == "all" else qs.filter(is_active=True)

    @extend_schema(summary="Create a person", request=PersonCreateInput, responses={201: PersonSerializer})
    def create(self, request: Request) -> Response:
        data = PersonCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = people.person_create(by=request.user, **data.validated_data)
        return Response(PersonSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a person: role, teams, names, email, active", request=PersonChangeInput, responses=PersonSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        data = PersonChangeInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = people.person_update(user=self.get_object(), by=request.user, **data.validated_data)
        return Response(PersonSerializer(user).data)

    @extend_schema(summary="Deactivate a person", description="They can no longer sign in, and their API tokens stop working.", request=None, responses=PersonSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        user = people.person_update(user=self.get_object(), by=request.user, is_active=False)
        return Response(PersonSerializer(user).data)

    @extend_schema(summary="Email a person an invitation", request=None, responses={202: PersonSerializer})
    @action(detail=True, methods=["post"])
    def invite(self, request: Request, pk: str) -> Response:
        user = self.get_object()
        people.person_invite(user=user, by=request.user)
        return Response(PersonSerializer(user).data, status=status.HTTP_202_ACCEPTED)


class TokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The caller's own tokens. Creating one needs a browser session, so that a
    leaked token cannot mint more tokens."""

    serializer_class = TokenSerializer
    pagination_class = None
    write_role = OrgRole.VIEWER  # anyone may manage their own tokens

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=api_user(self.request))

    @extend_schema(request=TokenInput, responses={201: TokenCreatedSerializer})
    def create(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            raise NotAllowed("API tokens are created from a signed-in session, not with another token.")
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        scope = data.validated_data["scope"]
        if scope == TokenScope.WRITE and role_of(request.user) == OrgRole.VIEWER:
            raise NotAllowed("A viewer can only create read-only tokens.")
        token, raw = ApiToken.issue(user=api_user(request), name=data.validated_data["name"], scope=scope)
        token.token = raw  # type: ignore[attr-defined]
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke a token", responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        token = self.get_object()
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
        return Response(status=status.HTTP_204_NO_CONTENT)


router = SimpleRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("users", UserViewSet, basename="user")
router.register("tokens", TokenViewSet, basename="token")
urlpatterns = router.urls
