"""Forms: the admin's usage report page and forms, the workspace pages' "New video" form.

Every form here applies the text-hygiene rule (``videogen.hygiene``) to its text and JSON
fields: a hostile value is a form error with the rule's code, never a 500 or a stored value.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.forms.fields import InvalidJSONInput, JSONString
from django.utils import timezone

from videogen import hygiene
from videogen.models import Workspace
from videogen.selectors import video_models_active
from videogen.services.jobs import request as schema
from videogen.services.money import report_parameters as report


class HygieneValidator:
    """The hygiene rule as a form field validator (single-line unless ``multiline``)."""

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value: Any) -> None:
        if isinstance(value, str) and (
            problem := hygiene.text_problem(value, multiline=self.multiline)
        ):
            raise ValidationError(problem.message, code=problem.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HygieneValidator) and other.multiline == self.multiline


class HygieneJSONField(forms.JSONField):
    """A JSON form field parsed by ``hygiene.loads`` (depth checked before parsing) whose
    keys and strings pass the hygiene rule; a refused value is shown back as typed."""

    def to_python(self, value):
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            converted = hygiene.loads(value, parse_float=float)
        except hygiene.HostileInput as err:
            raise ValidationError(err.message, code=err.code) from None
        except ValueError:
            raise ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            ) from None
        if found := hygiene.first_json_problem(converted):
            path, problem = found
            message = f"{path}: {problem.message}" if path else problem.message
            raise ValidationError(message, code=problem.code)
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return self.to_python(data)
        except ValidationError:
            return InvalidJSONInput(data)


class HygieneFormMixin:
    """Puts the hygiene rule on every text field of the form (a ``Textarea`` may span
    lines); it replaces Django's own NUL check, so a NUL is reported once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and not isinstance(field, forms.JSONField):
                multiline = isinstance(field.widget, forms.Textarea)
                field.validators = [
                    v
                    for v in field.validators
                    if not isinstance(v, ProhibitNullCharactersValidator)
                ]
                field.validators.append(HygieneValidator(multiline=multiline))


class HygieneModelForm(HygieneFormMixin, forms.ModelForm):
    """The admin's model forms (see ``admin.HygieneAdminMixin``)."""


_INTEGER = re.compile(r"-?[0-9]+")


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Primary keys beyond a 64-bit integer are invalid choices, not a database overflow."""

    def _check_values(self, value):
        for pk in value:
            text = pk.strip() if isinstance(pk, str) else ""
            if _INTEGER.fullmatch(text) and not (
                len(text) <= 20 and hygiene.MIN_INT <= int(text) <= hygiene.MAX_INT
            ):
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


class UsageReportForm(HygieneFormMixin, forms.Form):
    """The admin's usage report: the rules of ``services.money.report_parameters``; a blank
    start or end is that end of this month."""

    workspaces = BoundedModelMultipleChoiceField(
        queryset=Workspace.objects.all(), required=False, help_text="None selected: all."
    )
    start = forms.DateField(required=False, help_text="Default: first day of this month.")
    end = forms.DateField(required=False, help_text="Inclusive. Default: last day of this month.")
    group_by = forms.MultipleChoiceField(
        choices=[(d, d) for d in report.DIMENSIONS],
        initial=list(report.DEFAULT_GROUP_BY),
        required=False,
    )
    time_zone = forms.CharField(
        required=False,
        max_length=report.MAX_TIME_ZONE_CHARS,
        help_text="Default: the site's time zone.",
    )

    def clean_time_zone(self):
        name = self.cleaned_data["time_zone"].strip()
        try:
            return report.report_time_zone(name) if name else None
        except report.ReportError as err:
            raise ValidationError(_report_errors(err)["time_zone"]) from None

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        first, last = report.month_range(today.year, today.month)
        data["start"] = data.get("start") or first
        data["end"] = data.get("end") or last
        try:
            report.check_period(data["start"], data["end"])
        except report.ReportError as err:
            self._add_report_errors(err)
        try:
            chosen = data.get("group_by") or report.DEFAULT_GROUP_BY
            data["group_by"] = report.report_dimensions(chosen)
        except report.ReportError as err:
            self._add_report_errors(err)
        return data

    def _add_report_errors(self, err: report.ReportError) -> None:
        for name, errors in _report_errors(err).items():
            self.add_error(name, errors)


def _report_errors(err: report.ReportError) -> dict[str, list[ValidationError]]:
    return {
        name: [ValidationError(p.message, code=p.code) for p in problems]
        for name, problems in err.problems.items()
    }


_DEFAULT = [("", "(model default)")]
# Words for the spec's aspect ratios, so a person knows which way the video goes.
_SHAPES = {"16:9": "landscape", "9:16": "portrait", "1:1": "square", "21:9": "wide", "9:21": "tall"}
FRAME_LABELS = {"first_frame": "First frame", "last_frame": "Last frame"}
# Media kinds of input_references, by the type of an uploaded file or a link's file name.
_REFERENCE_KIND = {"image": "image_url", "audio": "audio_url", "video": "video_url"}
# The largest file whose data: URL stays within the schema's limit (base64: 4 bytes per 3).
MAX_UPLOAD_BYTES = (schema.MAX_DATA_URL_BYTES - 100) * 3 // 4


def request_form_field(field: schema.RequestField) -> forms.Field:
    """The "New video" form's field for one request field: type, choices and limits from the
    request schema. Only the shape is checked by the field; the schema's validation runs in
    ``JobRequestForm.clean``."""
    match field:
        case schema.ModelField():
            return forms.ChoiceField(choices=())  # the active catalog, set per form
        case schema.TextField(multiline=True):
            return forms.CharField(
                widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
                required=False,
                max_length=field.max_length,
            )
        case schema.IntegerField():
            return forms.IntegerField(
                required=False,
                min_value=field.min_value,
                max_value=field.max_value,
                help_text=field.help_text,
            )
        case schema.ChoiceField():
            return forms.ChoiceField(choices=_DEFAULT + field.choices_enum.choices, required=False)
    raise TypeError(f"the pages' form has no field for {type(field).__name__}")


def _form_field(name: str) -> forms.Field:
    return request_form_field(schema.FIELDS_BY_NAME[name])


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    class Input(forms.ClearableFileInput):
        allow_multiple_selected = True

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", self.Input(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def _kinds_text(kinds: tuple[str, ...]) -> str:
    return "an image" if kinds == ("image",) else "an image, audio or video"


def _data_url(upload, *, kinds: tuple[str, ...], label: str) -> tuple[str, str]:
    """``(kind, data: URL)`` of an uploaded file of one of ``kinds`` (image, audio, video),
    or ``ValidationError`` naming the file."""
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    kind = content_type.split("/")[0]
    if kind not in kinds:
        raise ValidationError(
            f"{label}: “{upload.name}” is not {_kinds_text(kinds)} file.",
            code="invalid_file_type",
        )
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"{label}: “{upload.name}” is larger than {MAX_UPLOAD_BYTES / 2**20:.1f} MB; "
            "give an https:// link to it instead.",
            code="file_too_large",
        )
    payload = base64.b64encode(upload.read()).decode("ascii")
    return _REFERENCE_KIND[kind], f"data:{content_type};base64,{payload}"


def _link_kind(url: str) -> str | None:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return _REFERENCE_KIND.get((guessed or "").split("/")[0])


class JobRequestForm(HygieneFormMixin, forms.Form):
    """The "New video" form, shaped by the chosen model's catalog entry.

    It offers only what the model takes (``services.jobs.request.request_choices``): its
    durations, resolutions, aspect ratios and sizes, the audio switch and a seed where the
    model has them, an upload or an https:// link for each frame image it takes, and reference
    media. The model is the one posted, else ``model_id``, else the first of the catalog.

    The fields check their shape; ``clean`` then builds the request body (uploads become
    ``data:`` URLs, which ``job_create`` stores as files) and runs ``validate_job_request``,
    showing its errors on the form's fields (or above it). ``request_data()`` is then the
    validated ``JobRequest``, which ``job_create`` does not validate again.
    """

    model = _form_field("model")
    prompt = _form_field("prompt")

    # Fields of the request that change the price (the live quote reads only these).
    PRICED = ("duration", "resolution", "aspect_ratio", "size", "generate_audio")

    def __init__(
        self, *args, model_id: str | None = None, options_url: str | None = None, **kwargs
    ):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.job_request: schema.JobRequest | None = None
        catalog = list(video_models_active().order_by("name", "model_id"))
        self.fields["model"].choices = [(m.model_id, m.name) for m in catalog]
        self.fields["model"].label = "Model"
        self.fields["prompt"].label = "Describe your video"
        self.fields[
            "prompt"
        ].help_text = "What happens, the look, the camera. Required unless you give a frame image."
        chosen = (self.data.get("model") if self.is_bound else None) or model_id
        by_id = {m.model_id: m for m in catalog}
        self.catalog_entry = by_id.get(chosen) or (catalog[0] if catalog else None)
        if self.catalog_entry is not None and not self.is_bound:
            self.initial.setdefault("model", self.catalog_entry.model_id)
        if options_url:
            self.fields["model"].widget.attrs.update(
                {
                    "hx-get": options_url,
                    "hx-target": "#vg-model-options",
                    "hx-swap": "outerHTML",
                    "hx-include": "closest form",
                    "hx-params": "model," + ",".join(self.PRICED) + ",seed",
                }
            )
        self._add_model_fields(schema.request_choices(self.catalog_entry))
        if not self.is_bound:  # values carried over from another model: only those offered
            for name, field in self.fields.items():
                offered = {str(v) for v, _ in getattr(field, "choices", ())}
                if name in self.initial and offered and str(self.initial[name]) not in offered:
                    del self.initial[name]

    def _add_model_fields(self, offers: dict[str, Any]) -> None:
        fields = self.fields
        durations = offers["duration"]
        if durations is None:
            fields["duration"] = _form_field("duration")
            fields["duration"].label = "Length (seconds)"
            fields["duration"].help_text = ""
        elif durations:
            fields["duration"] = forms.TypedChoiceField(
                label="Length",
                choices=[(d, f"{d} seconds") for d in durations],
                coerce=int,
                required=False,
                initial=durations[0],
            )
        for name, label in (("resolution", "Resolution"), ("aspect_ratio", "Shape")):
            offered = offers[name]
            if not offered:
                continue
            column = schema.FIELDS_BY_NAME[name].capability.column
            restricted = getattr(self.catalog_entry, column, None) is not None
            choices = [(v, self._choice_label(name, v)) for v in offered]
            fields[name] = forms.ChoiceField(
                label=label,
                # A model that lists its values gets one of them; any other, its default too.
                choices=choices if restricted else _DEFAULT + choices,
                required=False,
                initial=offered[0] if restricted else "",
            )
        if offers["size"]:
            fields["size"] = forms.ChoiceField(
                label="Exact size",
                choices=[("", "(use resolution and shape)")]
                + [(v, f"{v} pixels") for v in offers["size"]],
                required=False,
            )
        if offers["generate_audio"]:
            fields["generate_audio"] = forms.BooleanField(
                label="With sound", required=False, initial=True
            )
        if offers["seed"]:
            fields["seed"] = _form_field("seed")
            fields["seed"].label = "Seed (optional)"
            fields["seed"].help_text = "The same seed and settings give the same video."
        for frame_type in offers["frame_images"] or []:
            label = FRAME_LABELS.get(frame_type, frame_type)
            fields[f"{frame_type}_file"] = forms.FileField(
                label=f"{label} (an image)",
                required=False,
                widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
            )
            fields[f"{frame_type}_url"] = forms.URLField(
                label=f"{label}: or its link (https://)",
                required=False,
                max_length=schema.MAX_REMOTE_URL_CHARS,
                assume_scheme="https",
            )
        fields["reference_files"] = MultipleFileField(
            label="Reference files",
            required=False,
            help_text="Images, audio or video for the model to follow "
            f"(up to {schema.MAX_INPUT_REFERENCES}, with the links).",
        )
        fields["reference_files"].widget.attrs["accept"] = "image/*,audio/*,video/*"
        fields["reference_urls"] = forms.CharField(
            label="Reference links",
            required=False,
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text="https:// links to images, audio or video, one a line.",
        )

    @staticmethod
    def _choice_label(name: str, value: str) -> str:
        if name == "aspect_ratio" and value in _SHAPES:
            return f"{value} ({_SHAPES[value]})"
        return value

    @property
    def frame_types(self) -> list[str]:
        return [n.removesuffix("_file") for n in self.fields if n.endswith("_frame_file")]

    def price_request(self) -> dict[str, Any]:
        """The priced fields' values: as posted and valid when bound, else as offered."""
        values = {}
        if self.is_bound:
            self.is_valid()
            values = {n: self.cleaned_data.get(n) for n in self.PRICED if n not in self.errors}
        else:  # as offered: the initial values, cleaned like posted ones (``"8"`` → 8)
            for name in self.PRICED:
                field = self.fields.get(name)
                if field is None:
                    continue
                try:
                    values[name] = field.clean(self.get_initial_for_field(field, name))
                except ValidationError:
                    continue
        return {n: v for n, v in values.items() if n in self.fields and v not in (None, "")}

    def clean(self):
        cleaned = super().clean()
        body = self._request_body()  # uploads and links: their own errors on their fields
        try:
            job_request = schema.validate_job_request(body)
        except ValidationError as err:
            # Every problem at once; a field whose shape was already refused keeps that error.
            self.add_request_errors(err, skip=set(self.errors))
        else:
            if not self.errors:
                self.job_request = job_request
        return cleaned

    def _request_body(self) -> dict[str, Any]:
        data = self.cleaned_data
        body = {
            name: data.get(name)
            for name in (
                "model",
                "prompt",
                "duration",
                "resolution",
                "aspect_ratio",
                "size",
                "seed",
            )
            if data.get(name) not in (None, "")
        }
        if body.get("size"):  # an exact size replaces resolution and shape
            body.pop("resolution", None)
            body.pop("aspect_ratio", None)
        if "generate_audio" in self.fields:
            body["generate_audio"] = bool(data.get("generate_audio"))
        frames, problems = [], []
        for frame_type in self.frame_types:
            upload, link = data.get(f"{frame_type}_file"), data.get(f"{frame_type}_url")
            label = FRAME_LABELS.get(frame_type, frame_type)
            try:
                url = _data_url(upload, kinds=("image",), label=label)[1] if upload else link
            except ValidationError as err:
                self.add_error(f"{frame_type}_file", err)
                continue
            if url:
                frames.append(
                    {"type": "image_url", "image_url": {"url": url}, "frame_type": frame_type}
                )
        references = []
        for upload in data.get("reference_files") or []:
            try:
                kind, url = _data_url(upload, kinds=("image", "audio", "video"), label="Reference")
            except ValidationError as err:
                problems.append(err)
                continue
            references.append({"type": kind, kind: {"url": url}})
        for line in (data.get("reference_urls") or "").splitlines():
            link = line.strip()
            if not link:
                continue
            kind = _link_kind(link)
            if kind is None:
                problems.append(
                    ValidationError(
                        f"Reference link “{link[:80]}”: its name does not say whether it is an "
                        "image, audio or video (e.g. …/cat.png, …/voice.mp3, …/clip.mp4); "
                        "upload the file instead.",
                        code="unknown_media_type",
                    )
                )
                continue
            references.append({"type": kind, kind: {"url": link}})
        if problems:
            field = "reference_urls" if data.get("reference_urls") else "reference_files"
            self.add_error(field, problems)
        if frames:
            body["frame_images"] = frames
        if references:
            body["input_references"] = references
        return body

    def request_data(self) -> dict[str, Any]:
        """The validated ``JobRequest`` of a valid form."""
        return self.job_request

    # Request fields shown on another field of this form.
    _ERRORS_ON = {"frame_images": "first_frame_url", "input_references": "reference_urls"}

    def add_request_errors(self, error: ValidationError, *, skip: frozenset = frozenset()) -> None:
        """Show a service ``ValidationError``: its fields on the form's fields, the rest
        (non-field errors and request fields this form does not have) above the form; none
        on the fields in ``skip``."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            target = field if field in self.fields else self._ERRORS_ON.get(field)
            if target in skip:
                continue
            if target in self.fields:
                self.add_error(target, errors)
            elif field == NON_FIELD_ERRORS:
                self.add_error(None, errors)
            else:
                self.add_error(None, [f"{field}: {m}" for m in ValidationError(errors).messages])


class SpendMonthForm(HygieneFormMixin, forms.Form):
    """The spend page's month picker (``?month=YYYY-MM``, this month when empty) and its CSV
    switch (``?format=csv``)."""

    month = forms.CharField(
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month"}),
        help_text="Year and month, e.g. 2025-06.",
    )
    format = forms.ChoiceField(
        required=False, choices=[("", "page"), ("html", "page"), ("csv", "CSV")]
    )

    def clean_month(self) -> tuple[int, int] | None:
        text = self.cleaned_data["month"].strip()
        if not text:
            return None
        try:
            first, _ = report.report_month(text)  # the one rule for a report's month
        except report.ReportError as err:
            raise ValidationError(str(err), code="invalid") from None
        return first.year, first.month
