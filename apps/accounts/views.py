from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts import selectors, services
from apps.accounts.decorators import workspace_manager_required, workspace_required
from apps.accounts.forms import InvitationForm, SignUpForm, WorkspaceForm
from apps.accounts.models import Invitation, Membership


def _form_errors(form, exc: ValidationError) -> None:
    """Attach a service's ValidationError to the form so it renders next to the fields."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def home(request):
    return render(request, "home.html")


def signup(request):
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_sign_up(**form.cleaned_data)
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                exc = ValidationError({"password": exc.messages})
            _form_errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, "Welcome to Likeness! We sent you an email to confirm your address."
            )
            return redirect(request.GET.get("next") or "accounts:dashboard")
    return render(request, "accounts/signup.html", {"form": form})


def verify_email(request, token: str):
    try:
        services.email_verification_confirm(token=token)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Thanks — your email address is confirmed.")
    return redirect("accounts:dashboard" if request.user.is_authenticated else "accounts:login")


@login_required
@require_POST
def resend_verification(request):
    if not request.user.email_verified:
        services.email_verification_send(user=request.user)
    messages.info(request, "We sent a new confirmation link to your email address.")
    return redirect("accounts:dashboard")


@login_required
def dashboard(request):
    memberships = selectors.memberships_for_user(request.user)
    return render(
        request,
        "accounts/dashboard.html",
        {"memberships": memberships, "workspace_form": WorkspaceForm()},
    )


@login_required
def workspace_create(request):
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(
                owner=request.user, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Team workspace “{workspace.name}” created.")
            return redirect("accounts:workspace_settings", workspace=workspace.slug)
    return render(request, "accounts/workspace_new.html", {"form": form})


@workspace_required
def workspace_settings(request, workspace: str):
    ws = request.workspace
    return render(
        request,
        "accounts/workspace_settings.html",
        {
            "workspace": ws,
            "members": selectors.workspace_members(ws),
            "invitations": selectors.pending_invitations(ws)
            if request.membership.can_manage
            else [],
            "invite_form": InvitationForm(),
        },
    )


@require_POST
@workspace_manager_required
def invitation_create(request, workspace: str):
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            services.invitation_create(
                workspace=request.workspace, invited_by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
    else:
        messages.error(request, "Enter a valid email address to invite someone.")
    return redirect("accounts:workspace_settings", workspace=request.workspace.slug)


@require_POST
@workspace_manager_required
def invitation_revoke(request, workspace: str, invitation):
    inv = get_object_or_404(Invitation, workspace=request.workspace, public_id=invitation)
    services.invitation_revoke(invitation=inv, actor=request.user)
    messages.success(request, "Invitation withdrawn.")
    return redirect("accounts:workspace_settings", workspace=request.workspace.slug)


@require_POST
@workspace_manager_required
def member_remove(request, workspace: str, user):
    membership = get_object_or_404(
        Membership.objects.select_related("user", "workspace"),
        workspace=request.workspace,
        user__public_id=user,
    )
    try:
        services.membership_remove(membership=membership, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Member removed.")
    return redirect("accounts:workspace_settings", workspace=request.workspace.slug)


def invitation_accept(request, token: str):
    invitation = services.invitation_for_token(token)
    if invitation is None:
        raise Http404("No such invitation")
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{request.path}")
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"You joined {membership.workspace.name}.")
            return redirect("accounts:workspace_settings", workspace=membership.workspace.slug)
    problem = None
    if invitation.status == Invitation.Status.ACCEPTED:
        problem = "This invitation has already been used."
    elif invitation.status == Invitation.Status.REVOKED:
        problem = "This invitation was withdrawn. Ask for a new one."
    elif invitation.is_expired:
        problem = "This invitation has expired. Ask the workspace owner for a new one."
    elif request.user.is_authenticated and request.user.email.lower() != invitation.email.lower():
        problem = (
            "This invitation was sent to a different email address. Log out and sign in with "
            "the invited address."
        )
    return render(
        request,
        "accounts/invitation.html",
        {"invitation": invitation, "problem": problem, "token": token},
    )
