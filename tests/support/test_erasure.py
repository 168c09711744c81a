"""GDPR erasure of a fully populated person: nothing of them is left in any table or storage
location, orders stay anonymised, jobs cannot write afterwards, the team goes on."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from apps.accounts.models import AuditLog, ErasureRecord, Membership, User, Workspace
from apps.models.models import GenerationJob, JobStatus, LoraAdapter, TrainingJob
from apps.models.services.jobs import JobLost
from apps.orders.models import CreditLedger, Order, Seat, StripeEvent, ZipExport
from apps.photos.erasure import id_digest, person_erase
from apps.photos.models import DataExport, GeneratedImage, Photo, Subject
from tests.factories import (
    MembershipFactory,
    PhotoFactory,
    SubjectFactory,
    UserFactory,
    WorkspaceFactory,
    person_with_everything,
)
from tests.support.scan import database_hits, media_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


def erase(person, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return person_erase(user=person.user, actor=actor, reason="support_request")


def test_erasing_a_populated_person_leaves_nothing_of_them(
    staff, django_capture_on_commit_callbacks
):
    person = person_with_everything()
    media_root = Path(settings.MEDIA_ROOT)
    before = media_files(media_root)
    assert person.file_names <= before
    assert database_hits(person.needles)  # the scan does find them before

    record = erase(person, staff, django_capture_on_commit_callbacks)

    assert database_hits(person.needles) == []
    after = media_files(media_root)
    assert after & person.file_names == set()
    # Only the bystander's files are left (their photo and face crop).
    assert after == {person.bystander_photo.image.name, person.bystander_photo.face_crop.name}

    # Orders stay for accounting, without the person.
    order = Order.unscoped.get(pk=person.order.pk)
    assert (order.buyer_id, order.amount, order.status) == (None, person.order.amount, "delivered")
    assert order.anonymised_at is not None
    assert CreditLedger.unscoped.filter(order=order).count() == 2  # purchase, re-roll
    seat = Seat.unscoped.get(pk=person.seat.pk)
    assert (seat.subject_id, seat.member_id, seat.invited_email) == (None, None, "")
    team_seat = Seat.unscoped.get(pk=person.team_seat.pk)
    assert (team_seat.subject_id, team_seat.invited_email, team_seat.status) == (
        None,
        "",
        "cancelled",
    )
    # The Stripe event keeps its ids and amounts, not the person's contact details.
    event = StripeEvent.objects.get(pk=person.event.pk)
    session = event.payload["data"]["object"]
    assert session["amount_total"] == person.order.amount
    assert session["payment_intent"] == person.order.payment_intent_id
    assert session["customer_details"] == "[erased]"

    # Rows of the person are gone.
    assert not User.objects.filter(pk=person.user.pk).exists()
    subject_ids = [person.subject.pk, person.team_subject.pk]
    for model in (Photo, GeneratedImage, LoraAdapter, TrainingJob):
        assert not model.unscoped.filter(subject_id__in=subject_ids).exists(), model
    assert not GenerationJob.unscoped.filter(pk=person.queued_generation.pk).exists()
    assert not ZipExport.unscoped.filter(pk=person.zip_export.pk).exists()
    assert not DataExport.unscoped.filter(pk=person.data_export.pk).exists()

    # The personal workspace holds an order: kept as an anonymous, member-less shell.
    home = Workspace.objects.get(pk=person.home.pk)
    assert home.name == "Erased workspace" and not home.memberships.exists()
    # The team goes on: ownership passed to the admin, the member's data untouched.
    roles = dict(Membership.objects.filter(workspace=person.team).values_list("user", "role"))
    assert roles == {person.team_admin.pk: "owner", person.team_member.pk: "member"}
    assert Photo.unscoped.filter(pk=person.bystander_photo.pk).exists()

    # The record and the audit row: ids as digests and counts only.
    assert record.user_digest == id_digest(person.user.public_id)
    assert id_digest(person.subject.public_id) in record.subject_digests
    assert record.counts["photos"] == 4
    assert record.counts["generated_images"] == 3
    assert record.counts["jobs_cancelled"] == 2
    assert record.counts["orders_anonymised"] == 1
    audit = AuditLog.objects.get(action="person.erase")
    assert audit.actor_id == staff.pk and audit.target_ids == [str(record.public_id)]

    # The receipt went to the erased address, with counts.
    assert [m.to for m in mail.outbox] == [["zelda.quixote@example.com"]]
    assert "4 uploaded photos" in mail.outbox[0].body
    assert ErasureRecord.objects.get(pk=record.pk).receipt_sent_at is not None


def test_a_running_training_job_cannot_write_after_erasure(
    staff, django_capture_on_commit_callbacks, tmp_path, settings
):
    """The worker's final write (the ML engineer's ``_register_adapter``) is guarded by its
    ownership of the job: after erasure the guard fails and the adapter it stored is removed.
    Its checkpoint directory on this machine goes too."""
    from apps.models.services import training_work_dir
    from apps.models.services.training import _register_adapter

    settings.MODEL_ROOT = tmp_path / "models"
    person = person_with_everything()
    job = TrainingJob.unscoped.select_related("subject", "base_model").get(
        pk=person.running_training.pk
    )
    checkpoint = training_work_dir(job) / "checkpoint.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"lora weights so far")
    erase(person, staff, django_capture_on_commit_callbacks)
    assert not checkpoint.parent.exists()

    assert (
        TrainingJob.unscoped.filter(
            pk=job.pk, status=JobStatus.RUNNING, worker_id=job.worker_id
        ).update(status=JobStatus.SUCCEEDED)
        == 0
    )
    weights = tmp_path / "adapter.safetensors"
    weights.write_bytes(b"weights of a person")
    result = SimpleNamespace(
        adapter_path=weights,
        sha256="0" * 64,
        size_bytes=19,
        steps=10,
        final_loss=0.1,
        resumed_from_step=0,
        metadata={},
    )
    config = SimpleNamespace(
        rank=4, trigger_token="ohwx", class_word="person", to_dict=lambda: {"rank": 4}
    )
    before = media_files(settings.MEDIA_ROOT)
    with pytest.raises(JobLost):
        _register_adapter(job, result, config, job.worker_id)
    assert media_files(settings.MEDIA_ROOT) == before
    assert not LoraAdapter.unscoped.filter(workspace=person.home).exists()


def test_a_queued_generation_job_does_nothing_after_erasure(
    staff, django_capture_on_commit_callbacks
):
    from apps.models.services import generation_job_run

    person = person_with_everything()
    erase(person, staff, django_capture_on_commit_callbacks)
    outcome = generation_job_run(job_id=person.queued_generation.pk, worker_id="gpu-host:1")
    assert outcome == "skipped"
    assert not GeneratedImage.unscoped.filter(workspace=person.home).exists()


def test_a_person_alone_in_a_workspace_without_orders_takes_it_with_them(
    staff, django_capture_on_commit_callbacks
):
    user = UserFactory()
    workspace = WorkspaceFactory(kind=Workspace.Kind.PERSONAL)
    MembershipFactory(workspace=workspace, user=user, role=Membership.Role.OWNER)
    photo = PhotoFactory(subject=SubjectFactory(workspace=workspace, user=user))
    with django_capture_on_commit_callbacks(execute=True):
        record = person_erase(user=user, actor=staff, reason="legal")
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert not default_storage.exists(photo.image.name)
    assert media_files(settings.MEDIA_ROOT) == set()
    # Its directory (named by the workspace id) is gone too.
    assert not (Path(settings.MEDIA_ROOT) / "ws" / str(workspace.public_id)).exists()
    assert record.counts["workspaces_deleted"] == 1


def test_erasing_one_subject_keeps_the_account(staff, django_capture_on_commit_callbacks):
    workspace = WorkspaceFactory()
    owner = UserFactory()
    MembershipFactory(workspace=workspace, user=owner, role=Membership.Role.OWNER)
    kept = PhotoFactory(subject=SubjectFactory(workspace=workspace, user=owner))
    erased = PhotoFactory(subject=SubjectFactory(workspace=workspace))
    with django_capture_on_commit_callbacks(execute=True):
        record = person_erase(subject=erased.subject, actor=staff, reason="support_request")
    assert record.scope == "subject"
    assert not Subject.unscoped.filter(pk=erased.subject_id).exists()
    assert not default_storage.exists(erased.image.name)
    assert default_storage.exists(kept.image.name)
    assert User.objects.filter(pk=owner.pk).exists()
    assert Membership.objects.filter(workspace=workspace).count() == 1


def test_staff_accounts_and_bad_reasons_are_refused(staff):
    with pytest.raises(ValidationError):
        person_erase(user=staff, actor=staff, reason="support_request")
    with pytest.raises(ValidationError):
        person_erase(user=UserFactory(), actor=staff, reason="because I said so")


def test_erasing_twice_is_harmless(staff, django_capture_on_commit_callbacks):
    person = person_with_everything()
    with django_capture_on_commit_callbacks(execute=True):
        person_erase(subject=person.subject, actor=staff, reason="support_request")
        person_erase(user=person.user, actor=staff, reason="support_request")
    assert database_hits(person.needles) == []
    assert ErasureRecord.objects.count() == 2
