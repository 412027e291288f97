"""The public side's writes: receiving sign-ups, turning them into requests, confirming
addresses, purging what was never confirmed, activating new hosts."""

import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.utils import timezone

from alerts.services import people_link_or_invite, request_apply_decision
from mail.models import EmailKind, OutboxEmail
from mail.services import EmailSpec, email_queue_many
from orgs.models import Person, User
from selfsignup.logs import request_id
from selfsignup.queueing import backoff_delay, enqueue, wake, woken
from signup import emails
from signup.models import SignupRequest, Submission
from signup.tokens import (
    BadToken,
    new_nonce,
    nonce_matches,
    read_activation_token,
    read_confirmation_token,
)
from sites.decision import decide
from sites.domains import normalize_email
from sites.models import Site

logger = logging.getLogger(__name__)

# The cache key that says a run of `process_submissions` is waiting to start.
WAKE_KEY = "signup:submissions:wake"
# Failed tries are counted up to here (the field is a small integer).
SUBMISSION_MAX_ATTEMPTS_COUNTED = 100


def submission_receive(*, site: Site, email: str, fields: dict, language: str) -> None:
    """Store a valid sign-up form and make sure a task will process it.

    The web request does exactly this whatever the address (new, known, rejected, another
    organization's), so its answer and its timing tell nothing about the address.
    """
    submission = Submission(
        site=site,
        email=email,
        fields=fields,
        required_fields=list(site.required_fields),
        language=language,
        request_id=request_id.get(),
    )
    sql, columns = _submission_insert()
    # One INSERT is its own transaction: the worker is woken once the row is committed.
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                field.get_db_prep_save(getattr(submission, field.attname), connection)
                for field in columns
            ],
        )
    transaction.on_commit(submissions_wake)


@functools.cache
def _submission_insert() -> tuple[str, tuple[Field, ...]]:
    """The INSERT of a submission with every column but its id, and those columns' fields.

    Written out once from the model, as `Model.save` would write it (each value prepared by its
    field): compiling the ORM's INSERT on every sign-up cost nearly as much as running it (see
    `bench/signup_steps.py`). The model has no signal receivers for this to skip."""
    meta = Submission._meta
    columns = tuple(field for field in meta.concrete_fields if not field.primary_key)
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608 (model metadata only)
        f"({', '.join(quote(field.column) for field in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    return sql, columns


def submissions_wake() -> bool:
    """Publish a run of `process_submissions` unless one is already waiting to start."""
    from signup.tasks import process_submissions

    return wake(process_submissions, key=WAKE_KEY, ttl=settings.SUBMISSION_WAKE_TTL_SECONDS)


def submissions_process(*, limit: int = 500, seconds: float = 20.0) -> int:
    """Process the waiting submissions, oldest first, until none is left; return how many.

    Runs share the work through SKIP LOCKED. A run that finds more waiting after its first one
    wakes another (so a backlog spreads over the workers), and a run that reaches `limit` or
    `seconds` hands the rest to a fresh run rather than holding its worker."""
    woken(WAKE_KEY)
    deadline = time.monotonic() + seconds
    done = 0
    while done < limit and time.monotonic() < deadline:
        outcome = submission_process_next(helpers=done == 0)
        if outcome is None:
            return done
        done += 1
    submissions_wake()
    return done


def submission_process_next(*, helpers: bool = False) -> str | None:
    """Lock the oldest due submission, turn it into a request, a reminder or an email, and
    delete it; return what happened, or None when nothing is waiting.

    A submission whose processing fails stays, and is tried again later with a growing delay.
    With `helpers`, wake another run when more submissions are waiting. Its log lines, and the
    tasks it enqueues (on commit), carry the id of the web request that sent it."""
    now = timezone.now()
    followed = None
    try:
        with transaction.atomic():
            submission = _next_due(now)
            if submission is None:
                return None
            followed = request_id.set(submission.request_id or request_id.get())
            return _process_locked(submission, now, helpers=helpers)
    finally:
        if followed is not None:
            request_id.reset(followed)


def _next_due(now: datetime) -> Submission | None:
    return (
        # Lock the submission only: skipping rows locked through the join would pass over
        # every sign-up of a site whose row someone else holds (another sign-up, a save).
        Submission.objects.due(now)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("site__organization")
        .order_by("pk")
        .first()
    )


def _process_locked(submission: Submission, now: datetime, *, helpers: bool) -> str:
    if helpers and Submission.objects.due(now).exclude(pk=submission.pk).exists():
        transaction.on_commit(submissions_wake)
    try:
        with transaction.atomic():
            outcome = _process(submission)
    except Exception:
        logger.exception("sign-up %s could not be processed; it will be tried again", submission.pk)
        _postpone(submission, now)
        return "failed"
    submission.delete()
    return outcome


def _postpone(submission: Submission, now: datetime) -> None:
    submission.attempts = min(submission.attempts + 1, SUBMISSION_MAX_ATTEMPTS_COUNTED)
    delay = backoff_delay(settings.SUBMISSION_SWEEP_AFTER_SECONDS, submission.attempts)
    submission.not_before = now + timedelta(seconds=delay)
    submission.save(update_fields=["attempts", "not_before"])


def _resend_bucket() -> int:
    """Emails re-sent for the same cause share a key within this window, so they go once."""
    return int(time.time() // max(settings.SIGNUP_RESEND_INTERVAL, 1))


def _process(submission: Submission) -> str:
    site = submission.site
    email_normalized = normalize_email(submission.email)
    if not site.signup_allowed:
        return "closed"
    _lock_address(site, email_normalized)
    # The open request is locked first: an approval of it still in flight is waited for, and
    # the license it grants is then seen below (no new request for a host of a moment ago).
    existing = _open_request(site, email_normalized)
    host = (
        Person.objects.select_for_update(of=("self",))
        .filter(licenses__site=site, email_normalized=email_normalized)
        .first()
    )
    if host is not None:
        _tell_host(submission, host)
        return EmailKind.ALREADY_HOST
    # Any other address makes a request, another organization's included: an approval of it is
    # refused and it stays pending (SPEC section 7), and its request page says why.
    if existing is not None:
        _remind(existing)
        return "duplicate"
    try:
        with transaction.atomic():
            req = _create_request(submission, email_normalized)
    except IntegrityError:
        # Another submission for the same address won the race: treat this one as a repeat.
        existing = _open_request(site, email_normalized)
        if existing is None:
            raise
        _remind(existing)
        return "duplicate"
    if req.status == SignupRequest.Status.UNCONFIRMED:
        email_queue_many([emails.confirmation(req, cause=f"request:{req.pk}:confirm")])
    else:
        request_apply_decision(
            req=req, decision=decide(site=site, normalized_email=email_normalized)
        )
    return "created"


def _lock_address(site: Site, email_normalized: str) -> None:
    """One intake at a time per site and address, until the transaction ends. Otherwise a
    double click taken by two workers makes two requests: the second's INSERT waits for the
    first's, which, approved or rejected before it commits, no longer counts as open.
    (SQLite runs one writing transaction at a time anyway.)"""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        key = f"signup-intake:{site.pk}:{email_normalized}"
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def _tell_host(submission: Submission, person: Person) -> None:
    """An existing host makes no request: they are told how to sign in, with a new activation
    link if they still have no login (at most once an interval)."""
    people_link_or_invite([person])

    def build(cause: str) -> EmailSpec:
        return emails.already_host(
            site=submission.site,
            person=person,
            to=person.email,  # one key for every spelling of the address
            language=submission.language,
            cause=cause,
        )

    spec = _unless_sent_lately(build, f"site:{submission.site_id}:host:{person.pk}")
    if spec is not None:
        email_queue_many([spec])


def _open_request(site: Site, email_normalized: str) -> SignupRequest | None:
    return (
        SignupRequest.objects.open()
        .select_for_update(of=("self",))
        .select_related("site")
        .filter(site=site, email_normalized=email_normalized)
        .first()
    )


def _create_request(submission: Submission, email_normalized: str) -> SignupRequest:
    site = submission.site
    fields = dict(submission.fields)
    unconfirmed = site.require_confirmation
    now = timezone.now()
    return SignupRequest.objects.create(
        organization_id=site.organization_id,
        site=site,
        email=submission.email,
        email_normalized=email_normalized,
        first_name=fields.pop("first_name", ""),
        last_name=fields.pop("last_name", ""),
        fields=fields,
        required_fields=list(
            site.required_fields
            if submission.required_fields is None  # received before the field existed
            else submission.required_fields
        ),
        language=submission.language,
        status=SignupRequest.Status.UNCONFIRMED if unconfirmed else SignupRequest.Status.PENDING,
        confirmation_nonce=new_nonce() if unconfirmed else "",
        created_at=submission.created_at,
        last_notified_at=now,
    )


def _remind(req: SignupRequest) -> None:
    """A repeated sign-up: send the confirmation or acknowledgement again (rate-limited)."""
    build = (
        emails.confirmation if req.status == SignupRequest.Status.UNCONFIRMED else emails.received
    )
    spec = _unless_sent_lately(lambda cause: build(req, cause=cause), f"request:{req.pk}:remind")
    if spec is None:
        return  # sent within this interval already: nothing new went out
    email_queue_many([spec])
    # An unconfirmed request lives 24 hours from the last link it was sent.
    req.last_notified_at = timezone.now()
    req.save(update_fields=["last_notified_at", "updated_at"])


def _unless_sent_lately(build: Callable[[str], EmailSpec], cause: str) -> EmailSpec | None:
    """The email `build` makes for this window of `cause`, or None when the same email went out
    less than an interval ago: found by its key in this window or the one before (within an
    interval of now, so two repeats on each side of a window's edge send once)."""
    window = _resend_bucket()
    spec, before = build(f"{cause}:{window}"), build(f"{cause}:{window - 1}")
    since = timezone.now() - timedelta(seconds=settings.SIGNUP_RESEND_INTERVAL)
    keys = [spec.idempotency_key, before.idempotency_key]
    sent = OutboxEmail.objects.filter(idempotency_key__in=keys, created_at__gte=since).exists()
    return None if sent else spec


def submissions_sweep() -> int:
    """Wake a run when submissions have waited longer than they should (their wake-up was lost
    with the broker, or a failed one is due again); return how many are waiting so."""
    from signup.tasks import process_submissions

    stale = timezone.now() - timedelta(seconds=settings.SUBMISSION_SWEEP_AFTER_SECONDS)
    waiting = Submission.objects.due().filter(created_at__lt=stale).count()
    if waiting:
        # Straight to the broker: a wake-up key left by a lost run must not hold this one back.
        enqueue(process_submissions)
    return waiting


def request_confirm(*, token: str, site: Site) -> SignupRequest:
    """Confirm a request's address and take its decision. Raises BadToken when the link is
    tampered with, expired, or was used already."""
    request_id, nonce = read_confirmation_token(token)
    with transaction.atomic():
        req = (
            SignupRequest.objects.select_for_update(of=("self",))
            .select_related("site", "organization")
            .filter(pk=request_id, site=site, status=SignupRequest.Status.UNCONFIRMED)
            .first()
        )
        if req is None or not nonce_matches(req.confirmation_nonce, nonce):
            raise BadToken("used or unknown")
        req.confirmed_at = timezone.now()
        req.confirmation_nonce = ""
        req.save(update_fields=["confirmed_at", "confirmation_nonce", "updated_at"])
        decision = decide(site=req.site, normalized_email=req.email_normalized)
        request_apply_decision(req=req, decision=decision)
    return req


def requests_purge_unconfirmed() -> int:
    """Delete requests whose address was not confirmed within 24 hours of the last email."""
    cutoff = timezone.now() - timedelta(seconds=settings.SIGNUP_CONFIRMATION_MAX_AGE)
    expired = SignupRequest.objects.unconfirmed().filter(last_notified_at__lt=cutoff)
    with transaction.atomic():
        # Locked first, skipping those a repeated sign-up or a confirmation holds (a new link
        # may be on its way): a plain delete re-checks nothing between its SELECT and DELETE.
        ids = list(expired.select_for_update(skip_locked=True).values_list("pk", flat=True))
        deleted, _by_model = SignupRequest.objects.filter(pk__in=ids).delete()
    return deleted


def activation_person(*, token: str, site: Site) -> Person:
    """The person an activation link is for; raises BadToken unless it is valid and unused."""
    person_id, site_id, nonce = read_activation_token(token)
    if site_id != site.pk:
        raise BadToken("other site")
    if not site.signup_supported:
        # Turned SSO or government since the link was sent: no password around its sign-on.
        raise BadToken("site does not support self-sign-up")
    person = Person.objects.filter(pk=person_id, licenses__site=site).first()
    if person is None or person.user_id is not None:
        raise BadToken("used or unknown")
    if not nonce_matches(person.activation_nonce, nonce):
        raise BadToken("used or unknown")
    if User.objects.filter(email=person.email_normalized).exists():
        # The address got a login since the link was sent: it signs in with that one.
        raise BadToken("has a login")
    return person


def host_signed_in(*, user: User) -> None:
    """A login whose address is a person's without one becomes that person's login: the address
    got it after the person was approved (their activation link then sends them to sign in)."""
    if not Person.objects.filter(user=user).exists():
        Person.objects.filter(email_normalized=user.email, user__isnull=True).update(
            user=user, activation_nonce=""
        )


def host_activate(*, token: str, site: Site, password: str) -> User:
    """Set a new host's password: creates their login and uses up the activation link."""
    with transaction.atomic():
        person = activation_person(token=token, site=site)
        person = Person.objects.select_for_update().get(pk=person.pk)
        if person.user_id is not None:
            raise BadToken("used")
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    person.email_normalized, password, full_name=person.display_name
                )
        except IntegrityError as exc:  # the address got a login a moment ago
            raise BadToken("has a login") from exc
        person.user = user
        person.activation_nonce = ""
        person.save(update_fields=["user", "activation_nonce"])
    return user
