from __future__ import annotations

from typing import Any

from django import forms

from incidents.models import Incident
from runbooks.models import Cluster

MAX_UPLOAD = 500_000


class ImportForm(forms.Form):
    markdown = forms.CharField(widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}), required=False,
                               max_length=MAX_UPLOAD, strip=False, label="Markdown runbook")  # fmt: skip
    upload = forms.FileField(required=False, label="…or upload a .md file")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("upload")
        if upload:
            if upload.size > MAX_UPLOAD:
                raise forms.ValidationError("The file is larger than 500 kB.")
            try:
                data["markdown"] = upload.read().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError("The file is not UTF-8 text.") from exc
        if not (data.get("markdown") or "").strip():
            raise forms.ValidationError("Paste a Markdown runbook or upload one.")
        return data


class RunStartForm(forms.Form):
    incident = forms.ModelChoiceField(queryset=Incident.objects.none(), required=False, empty_label="None: a drill")
    cluster = forms.ModelChoiceField(queryset=Cluster.objects.all(), required=False, to_field_name="name", empty_label="—")
    namespace = forms.CharField(required=False, max_length=63, help_text="Default for steps that name none.")
    dry_run = forms.BooleanField(required=False, label="Dry run (Kubernetes server-side dry run, nothing changes)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        incident = self.fields["incident"]
        assert isinstance(incident, forms.ModelChoiceField)
        incident.queryset = Incident.objects.open().order_by("-id") if not args else Incident.objects.all()
        incident.label_from_instance = lambda i: f"INC-{i.pk} {i.title}"  # type: ignore[method-assign,assignment]


class StepCompleteForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("succeeded", "Done"), ("failed", "Failed"), ("skipped", "Skipped")])
    note = forms.CharField(required=False, max_length=5000)
