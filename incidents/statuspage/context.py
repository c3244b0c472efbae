from django.conf import settings


def status_page(request) -> dict:
    return {"status_title": settings.TOCSIN_STATUS_TITLE}
