from django.urls import path

from incidents.api import (
    alerts,
    chat_identities,
    escalation,
    ingest,
    integrations,
    oncall,
    rotations,
    views,
)

urlpatterns = [
    path("alerts/", alerts.AlertList.as_view(), name="alert-list"),
    path(
        "integrations/alertmanager/",
        ingest.AlertmanagerWebhook.as_view(),
        name="ingest-alertmanager",
    ),
    path("integrations/grafana/", ingest.GrafanaWebhook.as_view(), name="ingest-grafana"),
    path("integrations/", integrations.IntegrationListCreate.as_view(), name="integration-list"),
    path(
        "integrations/<int:pk>/",
        integrations.IntegrationDetail.as_view(),
        name="integration-detail",
    ),
    path("integrations/generic/", ingest.GenericWebhook.as_view(), name="ingest-generic"),
    path("severities/", views.SeverityList.as_view(), name="severity-list"),
    path("services/", views.ServiceListCreate.as_view(), name="service-list"),
    path("services/<int:pk>/", views.ServiceDetail.as_view(), name="service-detail"),
    path("incidents/", views.IncidentListCreate.as_view(), name="incident-list"),
    path("incidents/<int:pk>/", views.IncidentDetail.as_view(), name="incident-detail"),
    path(
        "incidents/<int:pk>/acknowledge/",
        views.IncidentAcknowledge.as_view(),
        name="incident-acknowledge",
    ),
    path("incidents/<int:pk>/resolve/", views.IncidentResolve.as_view(), name="incident-resolve"),
    path("incidents/<int:pk>/status/", views.IncidentTransition.as_view(), name="incident-status"),
    path("incidents/<int:pk>/updates/", views.IncidentUpdates.as_view(), name="incident-updates"),
    path(
        "incidents/<int:pk>/timeline/", views.IncidentTimeline.as_view(), name="incident-timeline"
    ),
    path(
        "incidents/<int:pk>/responders/",
        views.IncidentResponders.as_view(),
        name="incident-responders",
    ),
    path(
        "escalation-policies/",
        escalation.EscalationPolicyListCreate.as_view(),
        name="escalation-policy-list",
    ),
    path(
        "escalation-policies/<int:pk>/",
        escalation.EscalationPolicyDetail.as_view(),
        name="escalation-policy-detail",
    ),
    path(
        "users/<str:username>/contact-methods/",
        escalation.UserContactMethods.as_view(),
        name="user-contact-methods",
    ),
    path(
        "users/<str:username>/contact-methods/<int:pk>/test/",
        escalation.UserContactMethodTest.as_view(),
        name="user-contact-method-test",
    ),
    path(
        "users/<str:username>/chat-identities/",
        chat_identities.UserChatIdentities.as_view(),
        name="user-chat-identities",
    ),
    path(
        "users/<str:username>/chat-identities/<int:pk>/",
        chat_identities.UserChatIdentity.as_view(),
        name="user-chat-identity",
    ),
    path(
        "incidents/<int:pk>/escalate/",
        escalation.IncidentEscalate.as_view(),
        name="incident-escalate",
    ),
    path("incidents/<int:pk>/page/", escalation.IncidentPage.as_view(), name="incident-page"),
    path("schedules/", oncall.ScheduleListCreate.as_view(), name="schedule-list"),
    path("schedules/<int:pk>/", oncall.ScheduleDetail.as_view(), name="schedule-detail"),
    path(
        "schedules/<int:pk>/overrides/",
        oncall.ScheduleOverrides.as_view(),
        name="schedule-overrides",
    ),
    path(
        "schedules/<int:pk>/rotations/<int:rotation_pk>/",
        rotations.ScheduleRotation.as_view(),
        name="schedule-rotation",
    ),
    path(
        "schedules/<int:pk>/rotate-ical/",
        oncall.ScheduleRotateIcal.as_view(),
        name="schedule-rotate-ical",
    ),
    path("schedules/<int:pk>/oncall/", oncall.ScheduleOncall.as_view(), name="schedule-oncall"),
    path("schedules/<int:pk>/shifts/", oncall.ScheduleShifts.as_view(), name="schedule-shifts"),
]
