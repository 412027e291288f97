from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = _("Organizations and people")

    def ready(self) -> None:
        from selfsignup.search import search_in_any_case

        search_in_any_case()
