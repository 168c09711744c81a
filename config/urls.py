from django.contrib import admin
from django.urls import include, path

from apps.accounts import views as account_views

admin.site.site_header = "Likeness support"
admin.site.site_title = "Likeness support"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("", include("apps.accounts.urls")),
    path("", include("apps.orders.urls")),
    path("", include("apps.photos.urls")),
    path("", include("apps.models.urls")),
    path("support/", admin.site.urls),
]
