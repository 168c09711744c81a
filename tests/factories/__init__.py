"""factory_boy factories, one module per app, re-exported: ``from tests.factories import X``."""

from tests.factories.accounts import (  # noqa: F401
    InvitationFactory,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
    member_of,
)
