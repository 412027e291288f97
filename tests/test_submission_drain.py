"""The sign-up intake: one waiting run of the drain serves a burst of sign-ups, runs share a
backlog, a failing submission is tried again later, and the sweep finds what a lost wake-up
left behind."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone
from kombu.exceptions import OperationalError

from signup import services
from signup.models import SignupRequest, Submission
from signup.services import (
    WAKE_KEY,
    submission_process_next,
    submission_receive,
    submissions_process,
    submissions_sweep,
)
from signup.tasks import process_submissions
from tests.test_signup_flow import configure


@pytest.fixture
def open_site(site, full_admin):
    configure(site, require_confirmation=True)
    return site


@pytest.fixture
def published():
    """Count the publishes of the drain task without running it."""
    with mock.patch.object(process_submissions, "apply_async") as apply_async:
        yield apply_async


def receive(site, count, start=0):
    for number in range(start, start + count):
        submission_receive(
            site=site,
            email=f"person{number}@example.net",
            fields={"first_name": "P", "last_name": str(number)},
            language="en",
        )


def test_a_burst_of_sign_ups_publishes_one_run(open_site, published, run_commits):
    with run_commits():
        receive(open_site, 5)
    assert published.call_count == 1
    assert cache.get(WAKE_KEY) is not None


def test_the_run_serves_every_sign_up_committed_before_it_starts(open_site, published, run_commits):
    with run_commits():
        receive(open_site, 5)
    with run_commits():
        assert submissions_process() == 5
    assert not Submission.objects.exists()
    assert SignupRequest.objects.count() == 5
    # Once a run has started, the next sign-up publishes a new one.
    with run_commits():
        receive(open_site, 1, start=5)
    assert published.call_count == 2


def test_a_failed_publish_leaves_the_next_sign_up_free_to_publish(open_site, run_commits):
    with (
        mock.patch.object(
            process_submissions, "apply_async", side_effect=OperationalError("broker down")
        ) as failing,
        run_commits(),
    ):
        receive(open_site, 1)
    assert failing.call_count == 1
    assert cache.get(WAKE_KEY) is None
    with mock.patch.object(process_submissions, "apply_async") as working, run_commits():
        receive(open_site, 1, start=1)
    assert working.call_count == 1


def test_a_run_wakes_a_helper_only_when_more_are_waiting(open_site, published, run_commits):
    with run_commits():
        receive(open_site, 1)
    published.reset_mock()
    cache.delete(WAKE_KEY)  # the run has started
    with run_commits():
        assert submission_process_next(helpers=True) == "created"
    assert published.call_count == 0

    with run_commits():
        receive(open_site, 3, start=1)
    published.reset_mock()
    cache.delete(WAKE_KEY)
    with run_commits():
        assert submission_process_next(helpers=True) == "created"
    assert published.call_count == 1


def test_a_run_that_reaches_its_limit_hands_the_rest_on(open_site, published, run_commits):
    with run_commits():
        receive(open_site, 4)
    published.reset_mock()
    with run_commits():
        assert submissions_process(limit=3) == 3
    assert Submission.objects.count() == 1
    # The helper woken after the first one has not started: it takes the rest.
    assert published.call_count == 1
    cache.delete(WAKE_KEY)  # ... and without a run waiting, reaching the limit wakes one
    with run_commits():
        assert submissions_process(limit=0) == 0
    assert published.call_count == 2


def test_a_failing_submission_is_tried_again_later_and_holds_nothing_up(
    open_site, published, run_commits
):
    with run_commits():
        receive(open_site, 3)
    real = services._process
    broken = Submission.objects.order_by("pk").first()

    def flaky(submission):
        if submission.pk == broken.pk:
            raise RuntimeError("the mail service exploded")
        return real(submission)

    with mock.patch.object(services, "_process", side_effect=flaky), run_commits():
        assert submissions_process() == 3
    broken.refresh_from_db()
    assert broken.attempts == 1
    assert broken.not_before > timezone.now()
    assert SignupRequest.objects.count() == 2
    # Not due yet: a run passes over it.
    with run_commits():
        assert submissions_process() == 0
    Submission.objects.filter(pk=broken.pk).update(not_before=timezone.now())
    with run_commits():
        assert submissions_process() == 1
    assert not Submission.objects.exists()
    assert SignupRequest.objects.count() == 3


def test_the_delay_between_tries_grows(open_site, published, run_commits, settings):
    settings.SUBMISSION_SWEEP_AFTER_SECONDS = 60
    with run_commits():
        receive(open_site, 1)
    submission = Submission.objects.get()
    delays = []
    with mock.patch.object(services, "_process", side_effect=RuntimeError("still broken")):
        for _ in range(8):
            Submission.objects.filter(pk=submission.pk).update(not_before=None)
            before = timezone.now()
            assert submission_process_next() == "failed"
            submission.refresh_from_db()
            delays.append(round((submission.not_before - before).total_seconds() / 60))
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert submission.attempts == 8


def test_the_sweep_wakes_a_run_even_when_a_lost_one_holds_the_key(
    open_site, published, run_commits
):
    with run_commits():
        receive(open_site, 2)
    assert published.call_count == 1  # ... and say that run was lost with the broker
    assert submissions_sweep() == 0  # too recent: the run may still come
    Submission.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert cache.get(WAKE_KEY) is not None
    assert submissions_sweep() == 2
    assert published.call_count == 2


def test_an_unreachable_cache_is_logged_and_the_sign_up_left_for_the_sweep(caplog):
    """The cache fails open (None): no publish, and a warning an operator can alert on."""
    with (
        mock.patch.object(cache, "add", return_value=None),
        mock.patch.object(process_submissions, "apply_async") as publish,
    ):
        assert services.submissions_wake() is False
    publish.assert_not_called()
    assert "cache unavailable" in caplog.text
