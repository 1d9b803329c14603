"""API and form fields for human-entered text, cleaned by `portal.text.clean_text`.

The services clean what they store; these fields apply the same rule where a
serializer or a form writes rows itself (the catalogue) and make every input
agree with what will be stored: control characters removed, lone surrogates
replaced, single-line values on one line. A value that cleans to nothing is
blank, so a required field refuses it with the usual "may not be blank" error.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.http import HttpRequest
from rest_framework import serializers

from portal.text import clean_text


class CleanCharField(serializers.CharField):
    """A DRF CharField whose value is cleaned; `multiline` keeps line breaks (Markdown bodies)."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = clean_text(super().to_internal_value(data), multiline=self.multiline)
        if self.trim_whitespace:
            value = value.strip()
        if not value and not self.allow_blank:
            self.fail("blank")
        return value


class CleanMultilineCharField(CleanCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("multiline", True)
        super().__init__(**kwargs)


class CleanTextModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose generated text fields clean their input: names and
    titles (model CharField) on one line, descriptions and bodies (TextField) multi-line.
    Slug, URL and choice fields keep their own, stricter, fields."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: CleanCharField,
        models.TextField: CleanMultilineCharField,
    }


class CleanFormCharField(forms.CharField):
    """A form CharField whose value is cleaned; `multiline` keeps line breaks (textareas)."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        value = clean_text(value, multiline=self.multiline)
        if self.strip:
            value = value.strip()
        return value or self.empty_value


class CleanTextAdminMixin:
    """For ModelAdmins and inlines: plain text fields (not slugs, URLs or choices)
    clean their input like the API and the forms do."""

    def formfield_for_dbfield(self, db_field: models.Field, request: HttpRequest, **kwargs: Any) -> Any:
        if type(db_field) in (models.CharField, models.TextField) and not db_field.choices:
            kwargs.setdefault("form_class", CleanFormCharField)
            kwargs.setdefault("multiline", type(db_field) is models.TextField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
