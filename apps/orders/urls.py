from django.urls import path

from apps.orders import views

app_name = "orders"

ORDERS = "w/<slug:workspace>/orders/"
ORDER = ORDERS + "<uuid:order>/"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path(ORDERS, views.order_list, name="list"),
    path(ORDERS + "new/", views.order_new, name="new"),
    path(ORDERS + "team-styles/", views.team_styles, name="team_styles"),
    path(ORDER, views.order_detail, name="detail"),
    path(ORDER + "progress/", views.order_progress, name="progress"),
    path(ORDER + "checkout/", views.order_checkout, name="checkout"),
    path(ORDER + "test-checkout/", views.test_checkout, name="test_checkout"),
    path(ORDER + "receipt/", views.order_receipt, name="receipt"),
    path(ORDER + "seats/<uuid:seat>/assign/", views.seat_assign, name="seat_assign"),
    path(ORDER + "gallery/", views.gallery, name="gallery"),
    path(
        ORDER + "portraits/<uuid:portrait>/favourite/", views.portrait_favourite, name="favourite"
    ),
    path(ORDER + "portraits/<uuid:portrait>/download/", views.portrait_download, name="download"),
    path(ORDER + "reroll/", views.reroll, name="reroll"),
    path(ORDER + "exports/", views.export_create, name="export_create"),
    path(ORDER + "exports/<uuid:export>/", views.export_status, name="export_status"),
    path(ORDER + "exports/<uuid:export>/download/", views.export_download, name="export_download"),
]
