"""What the cross-tenant URL test needs to know.

``URL_OBJECTS`` maps a URL keyword argument to a function that creates an object owned by a
given workspace and returns the value to put in the URL. A new URL whose keywords are all
here is covered automatically; one with an unknown keyword fails the test until its maker is
added here or the URL is listed in ``EXEMPT`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.factories import InvitationFactory, member_of

URL_OBJECTS: dict[str, Callable] = {
    "invitation": lambda ws: InvitationFactory(workspace=ws).public_id,
    "user": lambda ws: member_of(ws).public_id,
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
