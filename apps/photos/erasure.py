"""GDPR erasure (Art. 17): ``person_erase(user=… | subject=…, actor=…, reason=…)``.

What is erased, in storage and in the database:
- every subject of the person (for a user: subjects whose ``user`` is them, and every subject of
  a workspace they were the only member of): photos (original, re-encoded image, face crop),
  face embeddings, the subject's reference embedding, LoRA adapter files, generated images and
  thumbnails, training and generation jobs with their payloads (config/params);
- the person's data exports (``DataExport``) and gallery zips of their orders;
- pending jobs are cancelled first (``jobs_cancel_for_subject``), so a worker that is running
  one fails its guarded final write and removes what it wrote; queued messages carry ids only
  and become no-ops when their row is gone;
- invitations addressed to the person, seat e-mail addresses, admin log entries about the erased
  rows, and personal fields (e-mail, name, phone, address) inside stored Stripe event payloads
  of the person's orders;
- audit rows keep their shape; ids of erased rows in them are replaced by keyed digests.

Kept, anonymised: orders (amounts, currency, status and the credit ledger stay for accounting;
``buyer`` is cleared and ``anonymised_at`` set; their seats lose member, e-mail and subject).

Rules (written down in docs in the module so support can quote them):
- **The user row is deleted**, not kept as a tombstone: every reference to it is nullable
  (orders, seats, subjects, invitations, moderation) or cascades (memberships), so nothing needs
  it, and a deleted row cannot leak. ``ErasureRecord`` keeps a keyed digest of its public id.
- **Team workspaces**: erasing a member removes that member's data and membership only. If
  they were the owner, ownership passes to the longest-standing admin, else to the
  longest-standing member.
- **Workspaces where the person was the only member** lose all their data (every subject in
  them, exports, invitations). With no orders the workspace is deleted; with orders it stays as
  an anonymised member-less shell ("Erased workspace") that holds the anonymised orders and their
  ledger for accounting.
- Staff accounts are not erased here (remove staff status first), so support cannot erase
  another support account.

Order of work: jobs are cancelled, files deleted from storage, then rows are deleted in one
transaction (with the subjects locked); files of rows that appeared in between are deleted after
commit, as are whole ``ws/<uuid>/`` prefixes of deleted workspaces. Re-running is safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import AuditLog, ErasureRecord, Invitation, Membership, User, Workspace
from apps.accounts.services import audit_record
from apps.models.models import GenerationJob, LoraAdapter, TrainingJob
from apps.orders.models import CreditLedger, Order, Seat, StripeEvent
from apps.photos.models import DataExport, GeneratedImage, Photo, Subject

logger = logging.getLogger(__name__)

ERASED_WORKSPACE_NAME = "Erased workspace"
REDACTED = "[erased]"
# Keys that carry a person's contact details inside Stripe objects.
STRIPE_PERSONAL_KEYS = frozenset(
    {
        "email",
        "name",
        "phone",
        "address",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_address",
        "receipt_email",
        "billing_details",
        "customer_details",
        "shipping",
        "shipping_details",
        "individual_name",
    }
)


def id_digest(value) -> str:
    """Keyed digest of an id: support can check "was X erased?" without the record storing X."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"erasure:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass
class _Scope:
    """What one erasure covers, resolved before anything is deleted."""

    user: User | None
    subjects: list[Subject]
    sole_workspaces: list[Workspace] = field(default_factory=list)
    shared_memberships: list[Membership] = field(default_factory=list)
    receipt_to: str = ""


# --- Resolving the scope ----------------------------------------------------------------------


def _scope_for_user(user: User) -> _Scope:
    memberships = list(Membership.objects.filter(user=user).select_related("workspace"))
    sole, shared = [], []
    for membership in memberships:
        others = Membership.objects.filter(workspace_id=membership.workspace_id).exclude(user=user)
        (shared if others.exists() else sole).append(membership)
    sole_workspaces = [m.workspace for m in sole]
    # Their own subjects, the subjects of seats they hold (set up before they had an account),
    # and everything in workspaces nobody else is in.
    subjects = (
        Subject.unscoped.filter(
            Q(user=user)
            | Q(seat__member=user)
            | Q(seat__invited_email__iexact=user.email)
            | Q(workspace__in=[w.pk for w in sole_workspaces])
        )
        .distinct()
        .order_by("pk")
    )
    return _Scope(
        user=user,
        subjects=list(subjects),
        sole_workspaces=sole_workspaces,
        shared_memberships=shared,
        receipt_to=user.email,
    )


def _scope_for_subject(subject: Subject) -> _Scope:
    receipt_to = subject.user.email if subject.user_id else ""
    if not receipt_to:
        seat = Seat.unscoped.filter(subject=subject).exclude(invited_email="").first()
        receipt_to = seat.invited_email if seat else ""
    return _Scope(user=None, subjects=[subject], receipt_to=receipt_to)


# --- Files ------------------------------------------------------------------------------------


def _names(queryset, *fields: str) -> set[str]:
    names: set[str] = set()
    for row in queryset.values_list(*fields):
        names.update(name for name in row if name)
    return names


def _subject_file_names(subject_ids: list[int]) -> set[str]:
    names = _names(
        Photo.unscoped.filter(subject_id__in=subject_ids), "original", "image", "face_crop"
    )
    images = GeneratedImage.unscoped.filter(subject_id__in=subject_ids)
    names |= _names(images, "image", "thumbnail")
    names |= _names(LoraAdapter.unscoped.filter(subject_id__in=subject_ids), "file")
    return names


def _order_zip_models() -> list:
    """Gallery zips of orders (owned by the orders app), when that app defines them."""
    from django.apps import apps

    models = []
    for model in apps.get_app_config("orders").get_models():
        if model._meta.model_name in ("zipexport", "galleryzip", "orderzip", "galleryexport"):
            models.append(model)
    return models


def _zip_rows(scope: _Scope, order_ids: set[int], seat_ids: set[int]) -> list:
    """Zip export rows that contain the person's images: by order or by seat."""
    rows = []
    for model in _order_zip_models():
        field_names = {f.name for f in model._meta.get_fields()}
        query = Q(pk__in=[])
        if "order" in field_names:
            query |= Q(order_id__in=order_ids)
        if "seat" in field_names:
            query |= Q(seat_id__in=seat_ids)
        if "subject" in field_names:
            query |= Q(subject_id__in=[s.pk for s in scope.subjects])
        rows.extend(model._base_manager.filter(query))
    return rows


def _file_field_names(row) -> set[str]:
    names = set()
    for model_field in row._meta.concrete_fields:
        if model_field.get_internal_type() == "FileField":
            value = getattr(row, model_field.attname)
            if value:
                names.add(str(value))
    return names


def _delete_files(names: set[str]) -> None:
    """Delete storage objects; raises on the first failure so rows are never deleted while
    their files remain (the erasure can then simply be run again)."""
    for name in sorted(names):
        default_storage.delete(name)


def _delete_prefix(prefix: str) -> int:
    """Delete every object under ``prefix`` (a deleted workspace's ws/<uuid>/)."""
    deleted = 0
    try:
        directories, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in files:
        default_storage.delete(f"{prefix.rstrip('/')}/{name}")
        deleted += 1
    for directory in directories:
        deleted += _delete_prefix(f"{prefix.rstrip('/')}/{directory}")
    _remove_empty_local_dir(prefix)
    return deleted


def _remove_empty_local_dir(prefix: str) -> None:
    """On local storage, also remove the now-empty directory (its name is a workspace id)."""
    if not isinstance(default_storage, FileSystemStorage):
        return  # object stores (S3) have no directories to remove
    with contextlib.suppress(OSError):
        os.rmdir(default_storage.path(prefix))


# --- The erasure ------------------------------------------------------------------------------


def person_erase(
    *,
    user: User | None = None,
    subject: Subject | None = None,
    actor: User | None,
    reason: str,
) -> ErasureRecord:
    """Erase one person: a user account with all its data, or one subject's data."""
    if (user is None) == (subject is None):
        raise ValueError("Pass exactly one of user= or subject=")
    if reason not in ErasureRecord.Reason.values:
        raise ValidationError("Choose why this data is being erased.")
    if user is not None and (user.is_staff or user.is_superuser):
        raise ValidationError(
            "Staff accounts are not erased here. A superuser removes staff status first."
        )
    actor_id = actor.pk if actor is not None else None
    actor_kind = "staff" if actor is not None and actor.is_staff else "user"
    scope = _scope_for_user(user) if user is not None else _scope_for_subject(subject)
    counts: Counter = Counter()

    # 1. Stop the work: pending jobs cancelled (committed at once, so running workers see it).
    from apps.models.services import jobs_cancel_for_subject

    for each in scope.subjects:
        counts["jobs_cancelled"] += jobs_cancel_for_subject(subject=each) or 0

    # 2. Files first: a failure here leaves every row in place to retry.
    subject_ids = [s.pk for s in scope.subjects]
    seat_ids = set(Seat.unscoped.filter(subject_id__in=subject_ids).values_list("pk", flat=True))
    order_ids = _orders_to_anonymise(scope)
    # Gallery zips of any order the person had a seat in contain their images.
    zip_order_ids = order_ids | set(
        Seat.unscoped.filter(pk__in=seat_ids).values_list("order_id", flat=True)
    )
    export_rows = _export_rows(scope)
    zip_rows = _zip_rows(scope, zip_order_ids, seat_ids)
    files_before = _subject_file_names(subject_ids)
    for row in [*export_rows, *zip_rows]:
        files_before |= _file_field_names(row)
    _delete_files(files_before)

    # 3. Rows, in one transaction, with the subjects locked against concurrent writers.
    with transaction.atomic():
        locked = list(
            Subject.unscoped.select_for_update().filter(pk__in=subject_ids).order_by("pk")
        )
        subject_ids = [s.pk for s in locked]
        erased_public_ids = _erased_public_ids(scope, subject_ids)
        files_after = _subject_file_names(subject_ids)
        export_rows = _export_rows(scope)
        zip_rows = _zip_rows(scope, zip_order_ids, seat_ids)
        for row in [*export_rows, *zip_rows]:
            files_after |= _file_field_names(row)

        counts.update(_count_rows(subject_ids))
        work_dirs = _job_work_dirs(subject_ids)
        counts["files"] = len(files_before | files_after)
        counts["exports"] = len(export_rows) + len(zip_rows)
        for row in [*export_rows, *zip_rows]:
            row.delete()
        _delete_admin_log_entries(scope, subject_ids)
        Subject.unscoped.filter(pk__in=subject_ids).delete()
        counts["seats_cleared"] = _clear_seats(scope, seat_ids)
        counts["orders_anonymised"] = _anonymise_orders(scope, order_ids)
        counts["stripe_events_redacted"] = _redact_stripe_events(scope, order_ids)
        if scope.user is not None:
            counts["invitations_deleted"] = Invitation.objects.filter(
                email__iexact=scope.user.email
            ).delete()[0]
        workspace_ids = {s.workspace_id for s in locked}
        workspace_ids |= {m.workspace_id for m in scope.shared_memberships}
        workspace_ids |= {w.pk for w in scope.sole_workspaces}
        workspace_prefixes = _settle_workspaces(scope, counts)
        _pseudonymise_kept_records(erased_public_ids, workspace_ids)

        record = ErasureRecord.objects.create(
            scope=ErasureRecord.Scope.USER if scope.user else ErasureRecord.Scope.SUBJECT,
            reason=reason,
            actor_id=actor_id,
            actor_kind=actor_kind,
            user_digest=id_digest(scope.user.public_id) if scope.user else "",
            subject_digests=[id_digest(s.public_id) for s in locked],
            counts=dict(sorted(counts.items())),
        )
        audit_record(
            actor=actor,
            actor_kind=actor_kind,
            action="person.erase",
            target_type="erasure",
            target_ids=[record.public_id],
            details={"scope": record.scope, "reason": reason, **record.counts},
        )
        if scope.user is not None:
            _delete_user(scope.user)
        late_files = files_after - files_before
        receipt_to = scope.receipt_to
        transaction.on_commit(
            lambda: _after_commit(record.pk, late_files, workspace_prefixes, receipt_to, work_dirs)
        )
    return record


def _orders_to_anonymise(scope: _Scope) -> set[int]:
    """Orders the person bought, and every order of a workspace they were alone in. (A team
    order someone else bought keeps its buyer; only the person's seat is cleared.)"""
    if scope.user is None:
        return set()
    query = Q(buyer=scope.user) | Q(workspace__in=[w.pk for w in scope.sole_workspaces])
    return set(Order.unscoped.filter(query).values_list("pk", flat=True))


def _export_rows(scope: _Scope) -> list[DataExport]:
    if scope.user is None:
        # A subject's photos and images are inside its user's exports.
        user_ids = [s.user_id for s in scope.subjects if s.user_id]
        return list(DataExport.unscoped.filter(user_id__in=user_ids))
    return list(
        DataExport.unscoped.filter(
            Q(user=scope.user) | Q(workspace__in=[w.pk for w in scope.sole_workspaces])
        )
    )


def _erased_public_ids(scope: _Scope, subject_ids: list[int]) -> set[str]:
    querysets = [
        Subject.unscoped.filter(pk__in=subject_ids),
        Photo.unscoped.filter(subject_id__in=subject_ids),
        GeneratedImage.unscoped.filter(subject_id__in=subject_ids),
        LoraAdapter.unscoped.filter(subject_id__in=subject_ids),
        TrainingJob.unscoped.filter(subject_id__in=subject_ids),
        GenerationJob.unscoped.filter(adapter__subject_id__in=subject_ids),
    ]
    ids = {str(v) for qs in querysets for v in qs.values_list("public_id", flat=True)}
    if scope.user is not None:
        ids.add(str(scope.user.public_id))
    return ids


def _count_rows(subject_ids: list[int]) -> dict[str, int]:
    return {
        "subjects": len(subject_ids),
        "photos": Photo.unscoped.filter(subject_id__in=subject_ids).count(),
        "generated_images": GeneratedImage.unscoped.filter(subject_id__in=subject_ids).count(),
        "adapters": LoraAdapter.unscoped.filter(subject_id__in=subject_ids).count(),
        "training_jobs": TrainingJob.unscoped.filter(subject_id__in=subject_ids).count(),
        "generation_jobs": GenerationJob.unscoped.filter(
            adapter__subject_id__in=subject_ids
        ).count(),
    }


def _delete_admin_log_entries(scope: _Scope, subject_ids: list[int]) -> None:
    """The admin's change history names objects by str() (a user's is their e-mail)."""
    photos = Photo.unscoped.filter(subject_id__in=subject_ids)
    images = GeneratedImage.unscoped.filter(subject_id__in=subject_ids)
    targets = [
        (Subject, subject_ids),
        (Photo, list(photos.values_list("pk", flat=True))),
        (GeneratedImage, list(images.values_list("pk", flat=True))),
    ]
    if scope.user is not None:
        targets.append((User, [scope.user.pk]))
    for model, pks in targets:
        if not pks:
            continue
        # Proxies (the moderation queue) log under their own content type.
        content_types = ContentType.objects.get_for_models(
            model, *_proxies_of(model), for_concrete_models=False
        ).values()
        LogEntry.objects.filter(
            content_type__in=list(content_types), object_id__in=[str(pk) for pk in pks]
        ).delete()


def _proxies_of(model) -> list:
    from django.apps import apps

    return [m for m in apps.get_models() if m._meta.proxy and m._meta.concrete_model is model]


def _clear_seats(scope: _Scope, seat_ids: set[int]) -> int:
    """Seats of erased subjects lose their person; undelivered ones are cancelled."""
    query = Q(pk__in=seat_ids)
    if scope.user is not None:
        query |= Q(member=scope.user) | Q(invited_email__iexact=scope.user.email)
    seats = Seat.unscoped.filter(query)
    cleared = seats.update(invited_email="", member=None)
    Seat.unscoped.filter(pk__in=seat_ids).exclude(
        status__in=[Seat.Status.DELIVERED, Seat.Status.CANCELLED]
    ).update(status=Seat.Status.CANCELLED)
    return cleared


def _anonymise_orders(scope: _Scope, order_ids: set[int]) -> int:
    orders = Order.unscoped.filter(pk__in=order_ids)
    if scope.user is not None:
        orders.filter(buyer=scope.user).update(buyer=None)
    return orders.update(anonymised_at=timezone.now())


def _redact(value, needles: set[str]):
    """Return ``value`` with personal keys and any string equal to a needle redacted."""
    if isinstance(value, dict):
        return {
            key: (REDACTED if key in STRIPE_PERSONAL_KEYS and item else _redact(item, needles))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item, needles) for item in value]
    if isinstance(value, str) and value.strip().lower() in needles:
        return REDACTED
    return value


def _redact_stripe_events(scope: _Scope, order_ids: set[int]) -> int:
    """Personal fields inside stored webhook payloads of the person's orders (amounts, ids and
    statuses stay: they are the accounting trail)."""
    stripe_ids = set()
    for session_id, intent_id in Order.unscoped.filter(pk__in=order_ids).values_list(
        "checkout_session_id", "payment_intent_id"
    ):
        stripe_ids.update(v for v in (session_id, intent_id) if v)
    needles = set()
    if scope.user is not None:
        needles = {scope.user.email.lower()}
        if scope.user.full_name.strip():
            needles.add(scope.user.full_name.strip().lower())
    elif scope.receipt_to:
        needles = {scope.receipt_to.lower()}
    query = Q(pk__in=[])
    for needle in [*stripe_ids, *needles]:
        query |= Q(payload__icontains=needle)
    redacted = 0
    for event in StripeEvent.objects.select_for_update().filter(query):
        payload = _redact(event.payload, needles)
        if payload != event.payload:
            StripeEvent.objects.filter(pk=event.pk).update(payload=payload)
            redacted += 1
    return redacted


def _settle_workspaces(scope: _Scope, counts: Counter) -> list[str]:
    """Shared workspaces: hand over ownership, drop the membership. Sole workspaces: delete, or
    keep an anonymised shell when orders must stay. Returns storage prefixes to sweep."""
    prefixes = []
    if scope.user is None:
        return prefixes
    for membership in scope.shared_memberships:
        if membership.role == Membership.Role.OWNER:
            _hand_over_ownership(membership)
        Membership.objects.filter(pk=membership.pk).delete()
        counts["memberships_removed"] += 1
    for workspace in scope.sole_workspaces:
        prefixes.append(f"ws/{workspace.public_id}/")
        Invitation.objects.filter(workspace=workspace).delete()
        if Order.unscoped.filter(workspace=workspace).exists():
            Membership.objects.filter(workspace=workspace).delete()
            Workspace.objects.filter(pk=workspace.pk).update(
                name=ERASED_WORKSPACE_NAME,
                slug=f"erased-{secrets.token_hex(8)}",
                photo_retention_days=None,
                photo_retention_after_training_days=None,
            )
            counts["workspaces_anonymised"] += 1
        else:
            Workspace.objects.filter(pk=workspace.pk).delete()
            counts["workspaces_deleted"] += 1
    return prefixes


def _hand_over_ownership(membership: Membership) -> None:
    """Ownership passes to the longest-standing admin, else the longest-standing member."""
    others = Membership.objects.filter(workspace_id=membership.workspace_id).exclude(
        pk=membership.pk
    )
    successor = (
        others.filter(role=Membership.Role.ADMIN).order_by("created_at", "pk").first()
        or others.order_by("created_at", "pk").first()
    )
    if successor is not None:
        Membership.objects.filter(pk=successor.pk).update(role=Membership.Role.OWNER)
        audit_record(
            actor=None,
            action="workspace.owner_handover",
            workspace=membership.workspace,
            target_type="membership",
            target_ids=[successor.pk],
            details={"reason": "previous owner erased"},
        )


def _pseudonym(value: str) -> str:
    return f"erased:{id_digest(value)[:32]}"


def _replace_ids(value, ids: set[str]):
    """``value`` (JSON) with every erased id inside it replaced by its pseudonym."""
    if isinstance(value, str):
        for erased in ids:
            if erased in value:
                value = value.replace(erased, _pseudonym(erased))
        return value
    if isinstance(value, list):
        return [_replace_ids(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _replace_ids(item, ids) for key, item in value.items()}
    return value


def _pseudonymise_kept_records(public_ids: set[str], workspace_ids: set[int]) -> None:
    """Audit rows and ledger entries stay; ids of erased rows in them become pseudonyms (the
    rows no longer exist, and a raw id could still be matched with a link in an old e-mail).
    Audit rows are looked for in the person's workspaces and among workspace-less rows."""
    ids = sorted(public_ids)
    scope = Q(workspace_id__in=sorted(workspace_ids)) | Q(workspace_id__isnull=True)
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        chunk_set = set(chunk)
        query = Q(pk__in=[])
        for value in chunk:
            query |= Q(target_ids__contains=[value]) | Q(details__icontains=value)
        for row in AuditLog.objects.filter(scope & query).only("pk", "target_ids", "details"):
            AuditLog.objects.filter(pk=row.pk).update(
                target_ids=_replace_ids(row.target_ids, chunk_set),
                details=_replace_ids(row.details, chunk_set),
            )
        # Re-roll entries reference their generation job's public id (for idempotency).
        for entry in CreditLedger.unscoped.filter(reference__in=chunk).only("pk", "reference"):
            CreditLedger.unscoped.filter(pk=entry.pk).update(reference=_pseudonym(entry.reference))


def _delete_user(user: User) -> None:
    # Sessions hold only the user id; deleting the row logs the person out everywhere.
    User.objects.filter(pk=user.pk).delete()


def _job_work_dirs(subject_ids: list[int]) -> list[Path]:
    """Local scratch directories of the person's jobs (training checkpoints hold LoRA weights).
    Reachable here when the worker shares this machine; a remote worker removes its own when
    it notices the job is gone (``_cleanup_if_finished``)."""
    from apps.models.services import training_work_dir
    from apps.models.services.generation import generation_work_dir

    dirs = [
        training_work_dir(job) for job in TrainingJob.unscoped.filter(subject_id__in=subject_ids)
    ]
    dirs += [
        generation_work_dir(job)
        for job in GenerationJob.unscoped.filter(adapter__subject_id__in=subject_ids)
    ]
    return dirs


def _after_commit(
    record_id: int,
    late_files: set[str],
    workspace_prefixes: list[str],
    receipt_to: str,
    work_dirs: list[Path],
) -> None:
    try:
        _delete_files(late_files)
        for prefix in workspace_prefixes:
            _delete_prefix(prefix)
        for directory in work_dirs:
            shutil.rmtree(directory, ignore_errors=True)
    except Exception:
        # Logged by record id only; the keys are random and the rows are already gone.
        logger.exception("erasure %s: late storage cleanup failed", record_id)
    if receipt_to:
        erasure_receipt_send(record_id=record_id, to=receipt_to)


RECEIPT_LABELS = {
    "subjects": "people (subjects) and their reference face data",
    "photos": "uploaded photos, with their face crops and face measurements",
    "adapters": "trained likeness models",
    "generated_images": "generated portraits",
    "training_jobs": "training jobs",
    "generation_jobs": "generation jobs",
    "jobs_cancelled": "jobs that were stopped before they finished",
    "files": "stored files in total",
    "exports": "downloadable zip files",
    "invitations_deleted": "invitations sent to your address",
    "memberships_removed": "team memberships",
    "workspaces_deleted": "workspaces",
    "orders_anonymised": "orders kept for accounting without your name or e-mail",
}


def erasure_receipt_send(*, record_id: int, to: str) -> bool:
    """E-mail the person what was erased (counts only). The address is held in memory only:
    it is no longer stored anywhere, so this runs right after the erasure commits."""
    from apps.accounts.emails import send_templated_email

    record = ErasureRecord.objects.filter(pk=record_id, receipt_sent_at__isnull=True).first()
    if record is None:
        return False
    lines = [
        (RECEIPT_LABELS[key], value)
        for key, value in record.counts.items()
        if key in RECEIPT_LABELS and value
    ]
    try:
        send_templated_email(
            to=to, template="erasure_receipt", context={"record": record, "lines": lines}
        )
    except Exception:
        logger.exception("erasure %s: receipt e-mail failed", record.public_id)
        return False
    ErasureRecord.objects.filter(pk=record.pk).update(receipt_sent_at=timezone.now())
    return True


@dataclass(frozen=True)
class ErasurePreview:
    """What erasing an account would do, for the confirmation page (no deletion)."""

    subjects: int
    photos: int
    generated_images: int
    workspaces_deleted: list[str]
    workspaces_kept_for_orders: list[str]
    workspaces_handed_over: list[str]
    orders_anonymised: int


def erasure_preview(*, user: User) -> ErasurePreview:
    scope = _scope_for_user(user)
    subject_ids = [s.pk for s in scope.subjects]
    with_orders = set(
        Order.unscoped.filter(workspace__in=[w.pk for w in scope.sole_workspaces]).values_list(
            "workspace_id", flat=True
        )
    )
    return ErasurePreview(
        subjects=len(subject_ids),
        photos=Photo.unscoped.filter(subject_id__in=subject_ids).count(),
        generated_images=GeneratedImage.unscoped.filter(subject_id__in=subject_ids).count(),
        workspaces_deleted=[w.name for w in scope.sole_workspaces if w.pk not in with_orders],
        workspaces_kept_for_orders=[w.name for w in scope.sole_workspaces if w.pk in with_orders],
        workspaces_handed_over=[
            m.workspace.name for m in scope.shared_memberships if m.role == Membership.Role.OWNER
        ],
        orders_anonymised=len(_orders_to_anonymise(scope)),
    )
