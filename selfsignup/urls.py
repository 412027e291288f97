from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/hub/", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("django-admin/", admin.site.urls),
    path("sites/", include("signup.urls")),
    path("hub/", include("selfsignup.hub_urls")),
]
