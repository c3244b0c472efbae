from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from incidents.statuspage import views

app_name = "status"

urlpatterns = [
    path("", views.status_page, name="index"),
    path("incidents/<int:number>/", views.incident_page, name="incident"),
    path("feed.atom", views.PublicUpdatesFeed(), name="feed"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", csrf_exempt(views.unsubscribe), name="unsubscribe"),
]
