"""When something happened, as the hub's messages say it: "10:42 UTC" today, with the date on
another day."""

from datetime import datetime

from django.utils import timezone


def moment(value: datetime) -> str:
    when = timezone.localtime(value)
    if when.date() == timezone.localdate():
        return when.strftime("%H:%M %Z")
    return when.strftime("%Y-%m-%d %H:%M %Z")
