"""Organizations, the people who sign in (users), administrators, the directory and licenses."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sites.domains import InvalidDomain, display_email, normalize_email


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True)
    language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who signs in: administrators (hub), hosts (a site's sign-in) and operators."""

    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("name"), max_length=200, blank=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="orgs_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def clean(self) -> None:
        """A login typed in a form (the operators' user pages) is stored the way every lookup
        compares it, as `create_user` stores it: `Boss@Bravo.example` as `boss@bravo.example`.
        Kept as typed, it would not sign in, and the check that an address is another
        organization's administrator would miss it."""
        super().clean()
        try:
            self.email = normalize_email(self.email)
        except InvalidDomain:
            raise ValidationError({"email": _("Enter a valid email address.")}) from None
        # An administrator's login is their organization's address, never another's person.
        from orgs.services import person_elsewhere

        organization_id = (
            Administrator.objects.filter(user_id=self.pk)
            .values_list("organization_id", flat=True)
            .first()
            if self.pk
            else None
        )
        if organization_id is not None and person_elsewhere(self.email, organization_id):
            raise ValidationError(
                {"email": _("This address belongs to a person of another organization.")}
            )

    @property
    def display_name(self) -> str:
        return self.full_name or display_email(self.email)

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name


class AdministratorQuerySet(models.QuerySet["Administrator"]):
    def full(self) -> "AdministratorQuerySet":
        return self.filter(role=Administrator.Role.FULL)


class Administrator(models.Model):
    """A user's administrator role in exactly one organization."""

    class Role(models.TextChoices):
        FULL = "full", _("Full administrator")
        SITE = "site", _("Site administrator")
        READ_ONLY = "readonly", _("Read-only administrator")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="administrator"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="administrators"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    sites = models.ManyToManyField(
        "sites.Site", blank=True, related_name="site_administrators", verbose_name=_("sites")
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )

    objects = AdministratorQuerySet.as_manager()

    class Meta:
        verbose_name = _("administrator")
        verbose_name_plural = _("administrators")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["full", "site", "readonly"]),
                name="orgs_administrator_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    @property
    def can_write(self) -> bool:
        return self.role != self.Role.READ_ONLY


class Person(models.Model):
    """Someone in an organization's user directory; the email is unique across organizations."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Added by an administrator")
        SELF_SIGNUP = "self_signup", _("Self-sign-up")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="people")
    email = models.EmailField(_("email"), max_length=254)
    email_normalized = models.CharField(max_length=254, unique=True, editable=False)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    profile = models.JSONField(_("profile"), default=dict, blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    source = models.CharField(_("created by"), max_length=16, choices=Source.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
    )
    # Set when an activation link is sent; cleared when the person sets a password.
    activation_nonce = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["last_name", "first_name", "email"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        indexes = [
            models.Index(fields=["organization", "last_name", "first_name"]),
            # The People page: an organization's people, newest first (keyset cursor).
            models.Index(fields=["organization", "-created_at", "-id"], name="orgs_people_page"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or display_email(self.email)


class HostLicense(models.Model):
    """A host license on one site; a person holds at most one per site."""

    class Source(models.TextChoices):
        SELF_SIGNUP = "self_signup", _("Self-sign-up request")
        TEMPLATE = "template", _("Automatic license template")
        MANUAL = "manual", _("Assigned by an administrator")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="licenses")
    site = models.ForeignKey("sites.Site", on_delete=models.CASCADE, related_name="licenses")
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("host license")
        verbose_name_plural = _("host licenses")
        constraints = [
            models.UniqueConstraint(fields=["person", "site"], name="orgs_one_license_per_site"),
        ]

    def __str__(self) -> str:
        return f"{self.person} @ {self.site}"


class LicenseTemplate(models.Model):
    """The organization's automatic license template: applied to people added by hand only."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="license_template"
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    sites = models.ManyToManyField(
        "sites.Site", blank=True, related_name="+", verbose_name=_("host licenses on")
    )

    class Meta:
        verbose_name = _("automatic license template")
        verbose_name_plural = _("automatic license templates")

    def __str__(self) -> str:
        return str(_("Automatic license template of %(org)s") % {"org": self.organization})
