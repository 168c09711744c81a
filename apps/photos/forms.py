from __future__ import annotations

from django import forms
from django.conf import settings

ACCEPT = "image/jpeg,image/png,image/webp,image/heic,image/heif,.jpg,.jpeg,.png,.webp,.heic,.heif"


class SubjectForm(forms.Form):
    display_name = forms.CharField(
        max_length=120,
        label="Name",
        help_text="Whose photos these are, e.g. “Alex Kim”. Only your workspace sees it.",
    )
    is_me = forms.BooleanField(required=False, initial=True, label="These are photos of me")
    consent = forms.BooleanField(
        required=False,  # the service refuses without it, with the message that explains why
        label="I am this person or have their permission",
    )

    def __init__(self, *args, can_choose_person: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not can_choose_person:
            # Members upload only their own photos: the subject is always themselves.
            del self.fields["is_me"]


class SubjectConsentForm(forms.Form):
    """Asked on the upload page before the first upload when the subject was made without
    consent (a team seat): the person, or whoever uploads for them, confirms it."""

    consent = forms.BooleanField(
        required=False,  # the view refuses without it, with a message that says what to do
        label="These photos are of me, or I have the person's permission to upload them, and I "
        "agree to Likeness using them to create my portraits",
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that takes several files (Django's documented pattern)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class PhotoUploadForm(forms.Form):
    """Renders the picker; the view reads ``request.FILES.getlist("photos")`` itself so that one
    bad file (empty, oversized) is refused on its own instead of failing the whole batch."""

    photos = MultipleFileField(label="Choose photos", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit_mb = round(settings.PHOTO_MAX_UPLOAD_BYTES / (1024 * 1024))
        self.fields[
            "photos"
        ].help_text = (
            f"JPEG, PNG, WebP or HEIC, up to {limit_mb} MB each. You can select several at once."
        )
