"""Tenancy primitives: every customer-owned row belongs to a Workspace.

``Model.objects`` is fail-closed: it only yields rows through ``for_workspace(ws)``; anything
else raises ``TenancyError``. Admin and actors use ``Model.unscoped`` explicitly.
"""

from __future__ import annotations

import uuid

from django.db import models


class TenancyError(RuntimeError):
    """A tenant-owned table was queried without a workspace."""


class ScopedManager(models.Manager):
    def get_queryset(self):
        raise TenancyError(
            f"{self.model.__name__}.objects needs a workspace: use "
            f"{self.model.__name__}.objects.for_workspace(ws) or .unscoped"
        )

    def for_workspace(self, workspace) -> models.QuerySet:
        if workspace is None or getattr(workspace, "pk", workspace) is None:
            raise TenancyError("for_workspace() needs a saved workspace")
        return models.QuerySet(self.model, using=self._db).filter(workspace=workspace)


class TenantModel(models.Model):
    """Abstract base for rows owned by a workspace: non-null FK, UUID public id."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="+", editable=False
    )

    # The first manager is the default one: Django's internals (related managers, admin,
    # serialisation) use it, so it must be the explicit unscoped one.
    unscoped = models.Manager()
    objects = ScopedManager()

    class Meta:
        abstract = True
        default_manager_name = "unscoped"
        base_manager_name = "unscoped"
