"""REST API v1: postmortem templates. Everyone signed in reads them (to choose one
when starting a postmortem); managers create, edit and delete them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import selectors
from incidents.models import PostmortemTemplate
from incidents.services import postmortem_templates as template_services
from portal.fields import CleanCharField, CleanMultilineCharField
from portal.models import OrgRole


class TemplateSectionSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=template_services.MAX_KEY, required=False, allow_blank=True,
                                help_text="Names the section in a postmortem; made from the title when left out.")  # fmt: skip
    title = CleanCharField(max_length=template_services.MAX_SECTION_TITLE)
    # A field named like Field.required: the serializer's metaclass takes it out of the class.
    required = serializers.BooleanField(default=False, help_text="Must be filled in before the postmortem is published.")  # type: ignore[assignment]
    prompt = CleanMultilineCharField(max_length=template_services.MAX_HELP, required=False, allow_blank=True, default="",
                                     help_text="Help text shown under the section's title.")  # fmt: skip


class PostmortemTemplateSerializer(serializers.ModelSerializer):
    sections = TemplateSectionSerializer(many=True, help_text="In the order a postmortem shows them.")

    class Meta:
        model = PostmortemTemplate
        fields = ["id", "name", "description", "is_default", "sections", "updated_at"]


class PostmortemTemplateInput(serializers.Serializer):
    name = CleanCharField(max_length=template_services.MAX_NAME)
    description = CleanMultilineCharField(max_length=template_services.MAX_DESCRIPTION, required=False, allow_blank=True)
    is_default = serializers.BooleanField(required=False, help_text="Used when a postmortem starts without naming a template.")
    sections = TemplateSectionSerializer(many=True)

    def validate_sections(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > template_services.MAX_SECTIONS:
            raise serializers.ValidationError(f"At most {template_services.MAX_SECTIONS} sections.")
        return value


@extend_schema_view(
    list=extend_schema(summary="List postmortem templates", description="The default template first."),
    retrieve=extend_schema(summary="Get a postmortem template"),
)
class PostmortemTemplateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = PostmortemTemplateSerializer
    write_role = OrgRole.MANAGER
    pagination_class = None

    def get_queryset(self) -> QuerySet[PostmortemTemplate]:
        return selectors.postmortem_template_qs()

    def _input(self, *, partial: bool) -> dict[str, Any]:
        data = PostmortemTemplateInput(data=self.request.data, partial=partial)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    @extend_schema(summary="Create a postmortem template", request=PostmortemTemplateInput, responses={201: PostmortemTemplateSerializer})
    def create(self, request: Request) -> Response:
        template = template_services.postmortem_template_create(by=request.user, **self._input(partial=False))
        return Response(PostmortemTemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a postmortem template",
        description="Only what is given changes; `sections` replaces the whole list. Postmortems already started keep their sections.",
        request=PostmortemTemplateInput,
        responses=PostmortemTemplateSerializer,
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        template = template_services.postmortem_template_update(template=self.get_object(), by=request.user, **self._input(partial=True))
        return Response(PostmortemTemplateSerializer(template).data)

    @extend_schema(summary="Delete a postmortem template", description="Postmortems started from it keep their sections.",
                   responses={204: None})  # fmt: skip
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        template_services.postmortem_template_delete(template=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
