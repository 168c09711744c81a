"""View guards for workspace URLs (the middleware has already resolved the membership)."""

from __future__ import annotations

from functools import wraps

from django.http import Http404


def workspace_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if getattr(request, "workspace", None) is None:
            raise Http404("No such workspace")
        return view(request, *args, **kwargs)

    return wrapper


def workspace_manager_required(view):
    """Owners and admins only; members get 404 (the page does not exist for them)."""

    @wraps(view)
    @workspace_required
    def wrapper(request, *args, **kwargs):
        if not request.membership.can_manage:
            raise Http404("No such page")
        return view(request, *args, **kwargs)

    return wrapper
