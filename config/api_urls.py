"""/api/v1/: every app's API URLs under one namespace, `api`."""

from incidents.api.urls import urlpatterns as incidents_urls
from postmortems.api import urlpatterns as postmortems_urls
from runbooks.api import urlpatterns as runbooks_urls

app_name = "api"

urlpatterns = [*incidents_urls, *runbooks_urls, *postmortems_urls]
