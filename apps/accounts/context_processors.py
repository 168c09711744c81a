from django.conf import settings


def site(request):
    return {"DEBUG": settings.DEBUG, "SUPPORT_EMAIL": settings.SUPPORT_EMAIL}
