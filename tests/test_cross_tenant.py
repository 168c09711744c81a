"""Generated from the URL resolver: for every URL that takes a workspace slug or object id, a
member of workspace B asking for workspace A's object gets 404 — through A's slug and through
B's own slug — for GET and POST."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.factories import WorkspaceFactory, member_of
from tests.tenancy import EXEMPT, EXEMPT_NAMESPACES, URL_OBJECTS


def _walk(patterns, namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            full = f"{namespace}:{ns}".strip(":") if ns else namespace
            yield from _walk(entry.url_patterns, full)
        elif isinstance(entry, URLPattern):
            yield namespace, entry


def id_taking_urls():
    found = []
    for namespace, pattern in _walk(get_resolver().url_patterns):
        if namespace.split(":")[0] in EXEMPT_NAMESPACES:
            continue
        keywords = sorted(
            getattr(pattern.pattern, "converters", {}) or pattern.pattern.regex.groupindex
        )
        if not keywords:
            continue
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        found.append((name, tuple(keywords)))
    return found


URLS = id_taking_urls()


def test_the_walk_finds_the_workspace_urls():
    names = {name for name, _ in URLS}
    assert "accounts:workspace_settings" in names
    assert "accounts:invitation_revoke" in names


@pytest.mark.parametrize(("name", "keywords"), URLS, ids=[n for n, _ in URLS])
@pytest.mark.django_db
def test_member_of_b_cannot_reach_workspace_a(client, name, keywords):
    if name in EXEMPT:
        pytest.skip(EXEMPT[name])
    unknown = [k for k in keywords if k != "workspace" and k not in URL_OBJECTS]
    assert not unknown, (
        f"{name} takes {unknown}: add a maker to tests/tenancy.py URL_OBJECTS or list the URL "
        "in EXEMPT with the reason"
    )
    workspace_a, workspace_b = WorkspaceFactory(), WorkspaceFactory()
    member_of(workspace_a, role="owner")
    intruder = member_of(workspace_b, role="owner")
    objects_of_a = {k: URL_OBJECTS[k](workspace_a) for k in keywords if k != "workspace"}
    client.force_login(intruder)

    slugs = [workspace_a.slug, workspace_b.slug] if "workspace" in keywords else [None]
    for slug in slugs:
        kwargs = dict(objects_of_a)
        if slug is not None:
            kwargs["workspace"] = slug
        if slug == workspace_b.slug and not objects_of_a:
            continue  # B's own page with no foreign object: nothing of A's to reach
        url = reverse(name, kwargs=kwargs)
        # 405 (wrong method) is decided before any lookup and reveals nothing; at least one
        # method must reach the lookup and get 404.
        codes = {method: client.generic(method, url).status_code for method in ("GET", "POST")}
        assert set(codes.values()) <= {404, 405}, (name, url, codes)
        assert 404 in codes.values(), (name, url, codes)
