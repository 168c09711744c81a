"""Subjects, the photo upload page, and permission-checked file serving."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.decorators import workspace_required
from apps.orders.selectors import subject_downloads_allowed
from apps.photos import checks, selectors, services
from apps.photos.files import content_type_for_key, serve_private_file
from apps.photos.forms import PhotoUploadForm, SubjectConsentForm, SubjectForm
from apps.photos.models import Photo, Subject


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _subject_or_404(request: HttpRequest, public_id) -> Subject:
    subject = selectors.subject_for_member(
        workspace=request.workspace, membership=request.membership, public_id=public_id
    )
    if subject is None:
        raise Http404("No such subject")
    return subject


def _photo_or_404(request: HttpRequest, public_id) -> Photo:
    photo = selectors.photo_for_member(
        workspace=request.workspace, membership=request.membership, public_id=public_id
    )
    if photo is None:
        raise Http404("No such photo")
    return photo


@require_http_methods(["GET", "POST"])
@workspace_required
def subjects(request: HttpRequest, workspace: str) -> HttpResponse:
    can_manage = request.membership.can_manage
    form = SubjectForm(request.POST or None, can_choose_person=can_manage)
    if request.method == "POST" and form.is_valid():
        is_me = form.cleaned_data.get("is_me", True) or not can_manage
        try:
            subject = services.subject_create(
                workspace=request.workspace,
                actor=request.user,
                display_name=form.cleaned_data["display_name"],
                consent_given=form.cleaned_data["consent"],
                user=request.user if is_me else None,
            )
        except ValidationError as exc:
            for field_name, errors in exc.error_dict.items():
                form.add_error(field_name if field_name in form.fields else None, errors)
        else:
            messages.success(request, "Now add photos of this person.")
            return redirect(
                "photos:subject_photos", workspace=request.workspace.slug, subject=subject.public_id
            )
    return render(
        request,
        "photos/subjects.html",
        {
            "workspace": request.workspace,
            "subjects": selectors.subjects_with_counts(
                workspace=request.workspace, membership=request.membership
            ),
            "form": form,
            "min_photos": settings.PHOTO_MIN_PER_SUBJECT,
            "max_photos": settings.PHOTO_MAX_PER_SUBJECT,
        },
    )


def _photo_list_context(request: HttpRequest, subject: Subject) -> dict:
    photos = list(selectors.photos_for_subject(subject))
    thresholds = services.photo_check_thresholds()
    for photo in photos:
        photo.advice = checks.advice_for(photo.reasons, thresholds=thresholds)
    return {
        "workspace": request.workspace,
        "subject": subject,
        "photos": photos,
        "counts": selectors.subject_photo_counts(subject),
        "any_pending": any(p.status == Photo.Status.PENDING for p in photos),
        "next_purge": selectors.subject_next_purge(subject),
    }


@require_http_methods(["GET", "POST"])
@workspace_required
def subject_photos(request: HttpRequest, workspace: str, subject) -> HttpResponse:
    """The upload page. POST takes one or many files (the form without JavaScript, or one file
    per request from static/js/upload.js, which asks for JSON)."""
    subject_obj = _subject_or_404(request, subject)
    if request.method == "POST":
        uploads = request.FILES.getlist("photos")
        if not uploads:
            if _wants_json(request):
                return JsonResponse(
                    {"photos": [], "refused": [{"name": "", "message": "No file arrived."}]},
                    status=400,
                )
            messages.error(request, "Choose at least one photo to upload.")
            return redirect(request.path)
        try:
            result = services.photos_upload(
                subject=subject_obj, uploads=uploads, actor=request.user
            )
        except ValidationError as exc:  # consent still pending: nothing was stored
            message = " ".join(exc.messages)
            if _wants_json(request):
                return JsonResponse(
                    {"photos": [], "refused": [{"name": "", "message": message}]}, status=400
                )
            messages.error(request, message)
            return redirect(request.path)
        if _wants_json(request):
            return JsonResponse(
                {
                    "photos": [str(p.public_id) for p in result.photos],
                    "refused": [{"name": n, "message": m} for n, m in result.refused],
                },
                status=200 if result.photos or not result.refused else 400,
            )
        if result.photos:
            count = len(result.photos)
            messages.success(
                request,
                f"{count} photo{'s' if count != 1 else ''} uploaded — we're checking "
                f"{'them' if count != 1 else 'it'} now.",
            )
        for name, message in result.refused:
            messages.error(request, f"{name}: {message}")
        return redirect(request.path)
    context = _photo_list_context(request, subject_obj)
    after_upload, after_training = selectors.retention_days(request.workspace)
    context.update(
        form=PhotoUploadForm(),
        consent_pending=subject_obj.consent_given_at is None,
        consent_form=SubjectConsentForm(),
        retention_days=after_upload,
        retention_after_training_days=after_training,
        max_upload_mb=round(settings.PHOTO_MAX_UPLOAD_BYTES / (1024 * 1024)),
    )
    return render(request, "photos/subject_photos.html", context)


@require_POST
@workspace_required
def subject_consent(request: HttpRequest, workspace: str, subject) -> HttpResponse:
    """The consent asked on the upload page before a team seat's first upload."""
    subject_obj = _subject_or_404(request, subject)
    form = SubjectConsentForm(request.POST)
    if form.is_valid() and form.cleaned_data["consent"]:
        services.subject_consent_record(subject=subject_obj, actor=request.user)
        messages.success(request, "Thank you. Now add your photos.")
    else:
        messages.error(request, "Tick the box to confirm before uploading photos.")
    return redirect(
        "photos:subject_photos", workspace=request.workspace.slug, subject=subject_obj.public_id
    )


@require_GET
@workspace_required
def subject_photos_partial(request: HttpRequest, workspace: str, subject) -> HttpResponse:
    """The photo list and counter, polled by htmx while any verdict is pending."""
    subject_obj = _subject_or_404(request, subject)
    return render(request, "photos/_photo_list.html", _photo_list_context(request, subject_obj))


@require_POST
@workspace_required
def photo_delete(request: HttpRequest, workspace: str, photo) -> HttpResponse:
    photo_obj = _photo_or_404(request, photo)
    subject = photo_obj.subject
    services.photo_delete(photo=photo_obj, actor=request.user)
    if request.headers.get("HX-Request"):
        return render(request, "photos/_photo_list.html", _photo_list_context(request, subject))
    messages.success(request, "Photo deleted.")
    return redirect(
        "photos:subject_photos", workspace=request.workspace.slug, subject=subject.public_id
    )


@require_GET
@workspace_required
def photo_image(request: HttpRequest, workspace: str, photo) -> HttpResponse:
    photo_obj = _photo_or_404(request, photo)
    return serve_private_file(request, photo_obj.image, content_type="image/jpeg")


@require_GET
@workspace_required
def photo_face(request: HttpRequest, workspace: str, photo) -> HttpResponse:
    photo_obj = _photo_or_404(request, photo)
    return serve_private_file(request, photo_obj.face_crop, content_type="image/jpeg")


@require_GET
@workspace_required
def generated_image(request: HttpRequest, workspace: str, image, variant: str) -> HttpResponse:
    """A generated portrait (variant full|thumb). Held or rejected images are 404 for anyone
    but staff; ``?download=1`` serves it as an attachment with a friendly name."""
    image_obj = selectors.generated_image_for_member(
        workspace=request.workspace, membership=request.membership, public_id=image
    )
    if image_obj is None:
        raise Http404("No such image")
    if not request.user.is_staff and not subject_downloads_allowed(subject_id=image_obj.subject_id):
        # A refunded or disputed order's portraits are not served (orders' download policy).
        raise Http404("No such image")
    fieldfile = (
        image_obj.thumbnail if variant == "thumb" and image_obj.thumbnail else image_obj.image
    )
    download_name = None
    if request.GET.get("download") == "1":
        ext = fieldfile.name.rsplit(".", 1)[-1].lower() if "." in fieldfile.name else "jpg"
        person = slugify(image_obj.subject.display_name) or "portrait"
        download_name = f"likeness-{person}-{str(image_obj.public_id)[:8]}.{ext}"
    return serve_private_file(
        request,
        fieldfile,
        content_type=content_type_for_key(fieldfile.name),
        download_name=download_name,
    )
