"""Request-level workspace resolution.

Any view whose URL captures ``workspace`` (a slug) gets ``request.workspace`` and
``request.membership`` from the authenticated user's membership. Not a member (or no such
workspace) → 404, so a foreign slug reveals nothing. Anonymous → the login page.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import Http404

from apps.accounts.selectors import membership_for_slug


class WorkspaceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.workspace = None
        request.membership = None
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("workspace")
        if slug is None:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = membership_for_slug(user=request.user, slug=slug)
        if membership is None:
            raise Http404("No such workspace")
        request.membership = membership
        request.workspace = membership.workspace
        return None
