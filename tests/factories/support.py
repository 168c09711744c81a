"""factory_boy factories for support (data exports), and ``person_with_everything``: one person
with data in every place erasure must reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import factory
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.accounts.models import AuditLog, Membership, User, Workspace
from apps.models.models import GenerationJob, JobStatus, LoraAdapter, TrainingJob
from apps.orders.models import CreditLedger, Order, Seat, StripeEvent, ZipExport
from apps.photos.models import DataExport, GeneratedImage, Photo, Subject
from tests.factories.accounts import (
    InvitationFactory,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
    member_of,
)
from tests.factories.ml import (
    GenerationJobFactory,
    LoraAdapterFactory,
    StyleFactory,
    TrainingJobFactory,
)
from tests.factories.orders import OrderFactory, SeatFactory, ZipExportFactory
from tests.factories.photos import (
    GeneratedImageFactory,
    PhotoFactory,
    SubjectFactory,
    TenantModelFactory,
    tiny_image_bytes,
)


class DataExportFactory(TenantModelFactory):
    """A person's export; ``status="ready"`` with a small stored zip by default."""

    class Meta:
        model = DataExport

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    status = DataExport.Status.READY
    file = factory.LazyFunction(lambda: ContentFile(b"PK\x05\x06" + b"\0" * 18, name="x.zip"))
    size_bytes = 22
    finished_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


@dataclass
class Person:
    """Everything ``person_with_everything`` made, for assertions."""

    user: User
    home: Workspace
    team: Workspace
    subject: Subject
    team_subject: Subject
    photos: list[Photo]
    images: list[GeneratedImage]
    adapter: LoraAdapter
    queued_generation: GenerationJob
    running_training: TrainingJob
    order: Order
    seat: Seat
    team_seat: Seat
    zip_export: ZipExport
    data_export: DataExport
    event: StripeEvent
    team_admin: User
    team_member: User
    bystander_photo: Photo
    needles: list[str] = field(default_factory=list)
    file_names: set[str] = field(default_factory=set)


def _files(*rows) -> set[str]:
    names = set()
    for row in rows:
        for model_field in row._meta.concrete_fields:
            if model_field.get_internal_type() == "FileField":
                value = getattr(row, model_field.attname)
                if value:
                    names.add(str(value))
    return names


def person_with_everything(
    *, email: str = "zelda.quixote@example.com", full_name: str = "Zelda Quixote-Erasure"
) -> Person:
    """A person with a personal workspace (an order, a seat, photos, an adapter, images, a zip,
    an export, a queued generation job and a running training job, a Stripe event naming them,
    admin log and audit rows) who also owns a team workspace with an admin and a member."""
    user = UserFactory(email=email, full_name=full_name)
    home = WorkspaceFactory(name="Personal", kind=Workspace.Kind.PERSONAL)
    MembershipFactory(workspace=home, user=user, role=Membership.Role.OWNER)

    subject = SubjectFactory(workspace=home, user=user, display_name=full_name)
    photos = [PhotoFactory(subject=subject) for _ in range(3)]
    Photo.unscoped.filter(pk=photos[0].pk).update(embedding=[0.1] * 128)
    photos[0].original.save("original.bin", ContentFile(tiny_image_bytes()), save=True)
    Subject.unscoped.filter(pk=subject.pk).update(reference_embedding=[0.1] * 128)
    adapter = LoraAdapterFactory(subject=subject)
    style = StyleFactory()
    images = [
        GeneratedImageFactory(subject=subject, adapter=adapter, style=style) for _ in range(2)
    ]
    images.append(
        GeneratedImageFactory(
            subject=subject,
            adapter=adapter,
            style=style,
            moderation_status=GeneratedImage.Moderation.HELD,
            hold_reason=GeneratedImage.HoldReason.LOW_LIKENESS,
        )
    )
    order = OrderFactory(
        workspace=home,
        buyer=user,
        status=Order.Status.DELIVERED,
        checkout_session_id=f"cs_test_{user.pk}zelda",
        payment_intent_id=f"pi_test_{user.pk}zelda",
        paid_at=timezone.now(),
    )
    seat = SeatFactory(
        order=order, subject=subject, member=user, invited_email=email, status="generating"
    )
    CreditLedger.unscoped.create(
        workspace=home, order=order, kind=CreditLedger.Kind.PURCHASE, credits=2, reference="p"
    )
    queued_generation = GenerationJobFactory(adapter=adapter, style=style, seat=seat, kind="reroll")
    CreditLedger.unscoped.create(  # as order_reroll writes it: the job's public id as reference
        workspace=home,
        order=order,
        kind=CreditLedger.Kind.REROLL,
        credits=-1,
        reference=str(queued_generation.public_id),
    )
    running_training = TrainingJobFactory(
        subject=subject,
        seat=seat,
        status=JobStatus.RUNNING,
        worker_id="gpu-host:4242",
        heartbeat_at=timezone.now(),
        started_at=timezone.now(),
        config={"steps": 10, "trigger_token": "ohwx", "caption": full_name},
    )
    zip_export = ZipExportFactory(
        order=order,
        status=ZipExport.Status.READY,
        file=ContentFile(b"PK\x05\x06" + b"\0" * 18, name="portraits.zip"),
    )
    data_export = DataExportFactory(workspace=home, user=user)
    event = StripeEvent.objects.create(
        stripe_id=f"evt_{user.pk}_zelda",
        type="checkout.session.completed",
        payment_intent_id=order.payment_intent_id,
        payload={
            "id": f"evt_{user.pk}_zelda",
            "data": {
                "object": {
                    "id": order.checkout_session_id,
                    "payment_intent": order.payment_intent_id,
                    "amount_total": order.amount,
                    "customer_details": {"email": email, "name": full_name},
                    "customer_email": email,
                    "metadata": {"order": str(order.public_id)},
                }
            },
        },
    )

    # A team the person owns, with an admin (the heir) and a member whose data must survive.
    team = WorkspaceFactory(name="Quixote Team")
    MembershipFactory(workspace=team, user=user, role=Membership.Role.OWNER)
    team_member = member_of(team, role=Membership.Role.MEMBER)
    team_admin = member_of(team, role=Membership.Role.ADMIN)
    team_subject = SubjectFactory(workspace=team, user=user, display_name=full_name)
    team_photo = PhotoFactory(subject=team_subject)
    bystander = SubjectFactory(workspace=team, user=team_member)
    bystander_photo = PhotoFactory(subject=bystander)
    team_order = OrderFactory(workspace=team, buyer=team_admin, status=Order.Status.PAID)
    team_seat = SeatFactory(
        order=team_order, subject=team_subject, member=user, invited_email=email
    )

    InvitationFactory(workspace=WorkspaceFactory(), email=email)  # someone else's team
    user_type = ContentType.objects.get_for_model(User)
    LogEntry.objects.create(
        user=UserFactory(is_staff=True),
        content_type=user_type,
        object_id=str(user.pk),
        object_repr=str(user),
        action_flag=CHANGE,
        change_message="[]",
    )
    AuditLog.objects.create(
        action="image.approve",
        workspace_id=home.pk,
        target_type="generated_image",
        target_ids=[str(images[0].public_id)],
    )
    AuditLog.objects.create(
        action="subject.create", target_type="subject", target_ids=[str(subject.public_id)]
    )
    AuditLog.objects.create(  # as photo_upload writes it: the subject's id in the details
        action="photo.upload",
        workspace_id=home.pk,
        target_type="photo",
        target_ids=[str(photos[1].public_id)],
        details={"subject": str(subject.public_id)},
    )

    rows = [*photos, team_photo, adapter, *images, zip_export, data_export]
    needles = [email, full_name, str(subject.public_id), str(team_subject.public_id)]
    needles += [str(p.public_id) for p in [*photos, team_photo]]
    needles += [str(i.public_id) for i in images]
    needles += [str(adapter.public_id), str(user.public_id)]
    needles += [str(queued_generation.public_id), str(running_training.public_id)]
    return Person(
        user=user,
        home=home,
        team=team,
        subject=subject,
        team_subject=team_subject,
        photos=photos,
        images=images,
        adapter=adapter,
        queued_generation=queued_generation,
        running_training=running_training,
        order=order,
        seat=seat,
        team_seat=team_seat,
        zip_export=zip_export,
        data_export=data_export,
        event=event,
        team_admin=team_admin,
        team_member=team_member,
        bystander_photo=bystander_photo,
        needles=needles,
        file_names=_files(*rows),
    )


__all__ = ["DataExportFactory", "Person", "person_with_everything"]
