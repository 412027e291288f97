"""The hub (namespace `hub`): its pages come from the apps whose job they are."""

from django.urls import path

from alerts import views as alerts
from orgs import views as orgs
from sites import views as sites

app_name = "hub"

urlpatterns = [
    path("", orgs.home, name="home"),
    path("login/", orgs.LoginView.as_view(), name="login"),
    path("logout/", orgs.LogoutView.as_view(), name="logout"),
    path("people/", orgs.people, name="people"),
    path("people/add/", orgs.person_add, name="person_add"),
    path("meetings/sites/", sites.site_list, name="sites"),
    path("meetings/sites/<slug:slug>/settings/", sites.site_settings, name="site_settings"),
    path("alerts/requests/", alerts.request_list, name="requests"),
    path("alerts/requests/bulk/", alerts.request_bulk, name="requests_bulk"),
    path("alerts/requests/<int:pk>/", alerts.request_detail, name="request_detail"),
    path("alerts/requests/<int:pk>/approve/", alerts.request_approve, name="request_approve"),
    path("alerts/requests/<int:pk>/reject/", alerts.request_reject, name="request_reject"),
    path(
        "alerts/requests/<int:pk>/emails/<int:email_id>/resend/",
        alerts.email_resend,
        name="email_resend",
    ),
    path("alerts/emails/", alerts.failed_emails, name="failed_emails"),
    path(
        "alerts/emails/<int:email_id>/resend/",
        alerts.failed_email_resend,
        name="failed_email_resend",
    ),
    path("alerts/audit/", alerts.audit, name="audit"),
]
