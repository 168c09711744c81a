"""What the cross-tenant URL test needs to know.

``URL_OBJECTS`` maps a URL keyword argument to a function that creates an object owned by a
given workspace and returns the value to put in the URL. A new URL whose keywords are all
here is covered automatically; one with an unknown keyword fails the test until its maker is
added here or the URL is listed in ``EXEMPT`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.factories import (
    DataExportFactory,
    GeneratedImageFactory,
    GenerationJobFactory,
    InvitationFactory,
    LoraAdapterFactory,
    OrderFactory,
    PhotoFactory,
    SeatFactory,
    SubjectFactory,
    TrainingJobFactory,
    ZipExportFactory,
    member_of,
)

URL_OBJECTS: dict[str, Callable] = {
    "invitation": lambda ws: InvitationFactory(workspace=ws).public_id,
    "user": lambda ws: member_of(ws).public_id,
    "subject": lambda ws: SubjectFactory(workspace=ws).public_id,
    "photo": lambda ws: PhotoFactory(subject=SubjectFactory(workspace=ws)).public_id,
    "image": lambda ws: GeneratedImageFactory(subject=SubjectFactory(workspace=ws)).public_id,
    "variant": lambda ws: "full",  # not an object: photos:generated_image takes full|thumb
    "training_job": lambda ws: TrainingJobFactory(subject=SubjectFactory(workspace=ws)).public_id,
    "generation_job": lambda ws: (
        GenerationJobFactory(
            adapter=LoraAdapterFactory(subject=SubjectFactory(workspace=ws))
        ).public_id
    ),
    "order": lambda ws: OrderFactory(workspace=ws).public_id,
    "seat": lambda ws: SeatFactory(order=OrderFactory(workspace=ws)).public_id,
    "portrait": lambda ws: GeneratedImageFactory(subject=SubjectFactory(workspace=ws)).public_id,
    "export": lambda ws: ZipExportFactory(order=OrderFactory(workspace=ws)).public_id,
    # A person's GDPR export (accounts:privacy_export_download): owned by a member of ws.
    "data_export": lambda ws: DataExportFactory(workspace=ws, user=member_of(ws)).public_id,
}

# URL name → why the generic test cannot cover it (and where it is covered instead).
EXEMPT: dict[str, str] = {
    "accounts:invitation_accept": (
        "addressed by an unguessable single-use token, not a workspace object; an invitation "
        "opened by another user is refused (tests/accounts/test_views.py)"
    ),
    "accounts:verify_email": "addressed by a signed token bound to one user (test_services.py)",
    "accounts:password_reset_confirm": "Django's signed reset token bound to one user",
}

# Namespaces outside the customer site (covered by their own tests).
EXEMPT_NAMESPACES: dict[str, str] = {
    "admin": "staff-only support site; customers are refused (tests/test_admin_access.py)",
}
