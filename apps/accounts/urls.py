from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from apps.accounts import views, views_privacy
from apps.accounts.forms import EmailAuthenticationForm

app_name = "accounts"

urlpatterns = [
    path("accounts/signup/", views.signup, name="signup"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/change/",
        auth_views.PasswordChangeView.as_view(
            success_url=reverse_lazy("accounts:password_change_done")
        ),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        auth_views.PasswordResetView.as_view(
            success_url=reverse_lazy("accounts:password_reset_done"),
            email_template_name="registration/password_reset_email.txt",
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            success_url=reverse_lazy("accounts:password_reset_complete")
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/verify/resend/", views.resend_verification, name="resend_verification"),
    path("accounts/verify/<str:token>/", views.verify_email, name="verify_email"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("workspaces/new/", views.workspace_create, name="workspace_create"),
    path("w/<slug:workspace>/settings/", views.workspace_settings, name="workspace_settings"),
    path("w/<slug:workspace>/invitations/", views.invitation_create, name="invitation_create"),
    path(
        "w/<slug:workspace>/invitations/<uuid:invitation>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "w/<slug:workspace>/members/<uuid:user>/remove/", views.member_remove, name="member_remove"
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    # Your data (GDPR export and erasure): apps/accounts/views_privacy.py
    path("accounts/privacy/", views_privacy.privacy, name="privacy"),
    path("accounts/privacy/export/", views_privacy.privacy_export, name="privacy_export"),
    path("accounts/privacy/exports/", views_privacy.privacy_exports, name="privacy_exports"),
    path(
        "accounts/privacy/exports/<uuid:data_export>/download/",
        views_privacy.privacy_export_download,
        name="privacy_export_download",
    ),
    path("accounts/privacy/erase/", views_privacy.privacy_erase, name="privacy_erase"),
    path("accounts/privacy/erased/", views_privacy.privacy_erased, name="privacy_erased"),
]
