"""Facts about Tocsin's URLs that more than one layer needs."""

# Paths under these answer JSON, errors included (the REST API and the Opsgenie / PagerDuty ones).
API_PATH_PREFIXES = ("/api/", "/v2/")
