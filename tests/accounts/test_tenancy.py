import pytest
from django.db import models

from apps.accounts.tenancy import ScopedManager, TenancyError, TenantModel

pytestmark = pytest.mark.django_db


def tenant_models():
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


def test_every_tenant_model_is_fail_closed_and_has_an_unscoped_manager():
    for model in tenant_models():
        assert isinstance(model.objects, ScopedManager)
        assert model._default_manager.name == "unscoped"
        with pytest.raises(TenancyError):
            list(model.objects.all())
        with pytest.raises(TenancyError):
            model.objects.for_workspace(None)
        field = model._meta.get_field("workspace")
        assert isinstance(field, models.ForeignKey) and not field.null


def test_every_tenant_model_index_starts_with_workspace():
    for model in tenant_models():
        for index in model._meta.indexes:
            assert index.fields[0] in ("workspace", "-workspace"), (model, index.fields)
