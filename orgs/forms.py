"""Hub forms about administrators and people."""

from django import forms
from django.utils.translation import gettext_lazy as _

from orgs.models import Administrator
from signup.forms import AddressField, SigninForm, TextField


class HubLoginForm(SigninForm):
    """Email and password of an administrator."""

    error_messages = {
        **SigninForm.error_messages,
        "not_admin": _("This account isn't an administrator's. Hosts sign in on their site."),
    }

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not Administrator.objects.filter(user=user).exists():
            raise forms.ValidationError(self.error_messages["not_admin"], code="not_admin")


class PersonForm(forms.Form):
    email = AddressField(label=_("Email"), max_length=254)
    first_name = TextField(label=_("First name"))
    last_name = TextField(label=_("Last name"))
