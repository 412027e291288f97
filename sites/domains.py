"""Domain names and domain patterns: normalization, parsing and the suffixes an email matches.

Pure functions, no database. A pattern is `example.com` (exactly that domain) or `*.example.com`
(any subdomain of example.com, never example.com itself). Everything is stored in IDNA (punycode)
form and shown back in Unicode.
"""

import re
import unicodedata
from dataclasses import dataclass

import idna
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

MAX_DOMAIN_LENGTH = 253
MAX_EMAIL_LENGTH = 254
_MAX_RAW_LENGTH = 1024  # longer input is refused before any parsing work


# Django's email validator takes `localhost` as a domain: an address there is the mail relay's
# own mailbox (root, postmaster), never a person's.
_validate_email = EmailValidator(allowlist=[])
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def validate_address(value: str) -> None:
    """An address the product takes from people (sign-up, Add person, review recipients, Test
    an address): Django's check, then what it lets through and we can't use. Raises
    ValidationError.

    - Control characters in a quoted local part: in a To header Python's email package writes
      some of them as bare line breaks.
    - The four non-ASCII letters Django lets into a local part (U+0130, U+0131, U+017F and the
      Kelvin sign U+212A) lower-case into ASCII: `\u212aate@` would stand for `kate@`, while its
      own mail could never be delivered.
    - A domain we can't normalize."""
    _validate_email(value)
    if CONTROL_CHARACTERS.search(value) or not value.rpartition("@")[0].isascii():
        raise ValidationError(_validate_email.message, code=_validate_email.code)
    try:
        normalize_email(value)
    except InvalidDomain as exc:
        raise ValidationError(_validate_email.message, code=_validate_email.code) from exc


class InvalidDomain(ValueError):
    """The text is not a domain name we accept."""


class WholeTopLevelDomain(InvalidDomain):
    """A pattern that would cover a whole top-level domain (`com`, `*.com`)."""


# A plain ASCII label (letters, digits, inner hyphens, no "--" in positions 3-4): what IDNA
# would leave as it is, so such domains skip the (much slower) IDNA machinery.
_PLAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _plain_ascii(text: str) -> bool:
    return text.isascii() and all(
        _PLAIN_LABEL.match(label) and label[2:4] != "--" for label in text.split(".")
    )


# The full stops IDNA reads as label separators (RFC 3490 section 3.1): mapped to "." first, so
# that a trailing `。` is dropped like a trailing "." and `example。com` is `example.com`.
_FULL_STOPS = str.maketrans(dict.fromkeys("\u3002\uff0e\uff61", "."))


def normalize_domain(raw: str) -> str:
    """Trim, lower-case, drop one trailing dot and convert to IDNA: `Bücher.Example.` → punycode."""
    if len(raw) > _MAX_RAW_LENGTH:
        raise InvalidDomain(raw[:64])
    text = raw.strip().lower().translate(_FULL_STOPS)
    if text.endswith("."):
        text = text[:-1]
    # Punycode is never shorter than the Unicode text, so longer text can be refused at once.
    if not text or len(text) > MAX_DOMAIN_LENGTH:
        raise InvalidDomain(raw)
    if _plain_ascii(text):
        ascii_form = text
    else:
        try:
            ascii_form = idna.encode(text, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidDomain(raw) from exc
    labels = ascii_form.split(".")
    if len(ascii_form) > MAX_DOMAIN_LENGTH or not all(labels) or labels[-1].isdigit():
        # An empty label (a second trailing dot, say) is not a name; a numeric last label is an
        # IP address.
        raise InvalidDomain(raw)
    return ascii_form


def display_domain(ascii_form: str) -> str:
    """The Unicode form of a stored domain or pattern, for people to read."""
    prefix = ""
    if ascii_form.startswith("*."):
        prefix, ascii_form = "*.", ascii_form[2:]
    if "xn--" not in ascii_form.lower():
        return prefix + ascii_form  # no A-label: already what people read (and no IDNA cost)
    try:
        return prefix + idna.decode(ascii_form)
    except (idna.IDNAError, UnicodeError):
        return prefix + ascii_form


def display_email(address: str) -> str:
    """An address as people read it: its domain in Unicode (browsers send an `<input
    type=email>`'s international domain in its A-label form), unless a label of it mixes
    scripts, as `xn--cme-5cd` (acme with a Cyrillic first letter) does: that one is shown in
    its A-label form, as browsers show it, so that it can't pass for the domain it imitates.
    Anything else is left alone."""
    local, at, domain = address.rpartition("@")
    if not at or "xn--" not in domain.lower():
        return address
    shown = display_domain(domain)
    if not all(_one_script(label) for label in shown.split(".")):
        return address
    return f"{local}@{shown}"


# Japanese writes one word in these three scripts.
_JAPANESE = {"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA"}


def _one_script(label: str) -> bool:
    """Whether the letters of a label are all of one script (by their Unicode names: digits,
    hyphens and combining marks belong to none)."""
    scripts = set()
    for char in label:
        if char.isdigit() or char == "-":
            continue
        name = unicodedata.name(char, "")
        if not name or name.startswith("COMBINING"):
            continue
        script = name.split(" ", 1)[0]
        scripts.add("JAPANESE" if script in _JAPANESE else script)
    return len(scripts) <= 1


def split_email(raw: str) -> tuple[str, str]:
    """Split an address at its last `@`; raise InvalidDomain when there is none."""
    local, sep, domain = raw.strip().rpartition("@")
    if not sep or not local or not domain:
        raise InvalidDomain(raw[:64])
    return local, domain


# What a local part may hold without quotes (RFC 5322's dot-atom).
_DOT_ATOM = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$", re.I)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def _canonical_local(local: str) -> str:
    """A local part spelled one way. Quotes are not part of an address (RFC 5322 section
    3.2.4): `"ann"` and `ann` are one mailbox, and so are `"a\\nn"` and `"ann"`. Quotes that
    change nothing are dropped; a local part that needs them keeps only the backslashes that it
    needs too."""
    if len(local) < 2 or local[0] != '"' or local[-1] != '"':
        return local
    text = _QUOTED_PAIR.sub(r"\1", local[1:-1])
    if _DOT_ATOM.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def normalize_email(raw: str) -> str:
    """The form used to compare addresses: the local part without quotes that change nothing,
    lower-cased; the domain normalized."""
    if len(raw) > _MAX_RAW_LENGTH:
        raise InvalidDomain(raw[:64])
    local, domain = split_email(raw)
    normalized = f"{_canonical_local(local).lower()}@{normalize_domain(domain)}"
    if len(normalized) > MAX_EMAIL_LENGTH:
        raise InvalidDomain(raw[:64])
    return normalized


def deliverable_email(raw: str) -> str:
    """The address to send to: the local part as typed, the domain in the IDNA 2008 form the
    rules matched. Django would encode a Unicode domain with IDNA 2003 (`faß.de` → `fass.de`,
    another domain); an A-label it leaves as it is."""
    local, domain = split_email(raw)
    return f"{local}@{normalize_domain(domain)}"


def email_domain(normalized_email: str) -> str:
    return normalized_email.rpartition("@")[2]


@dataclass(frozen=True)
class Pattern:
    """A parsed domain pattern: `suffix` is the domain, `wildcard` says whether `*.` precedes it."""

    suffix: str
    wildcard: bool

    @property
    def text(self) -> str:
        return f"*.{self.suffix}" if self.wildcard else self.suffix

    @property
    def display(self) -> str:
        return display_domain(self.text)


def parse_pattern(raw: str) -> Pattern:
    """Parse one entry; raise InvalidDomain naming it when it is malformed or a bare TLD."""
    entry = raw.strip()
    wildcard = entry.startswith("*.")
    body = entry[2:] if wildcard else entry
    if "*" in body or "@" in body or any(ch.isspace() for ch in body):
        raise InvalidDomain(entry)
    suffix = normalize_domain(body)
    if "." not in suffix:
        raise WholeTopLevelDomain(entry)
    return Pattern(suffix=suffix, wildcard=wildcard)


def split_entries(text: str) -> list[str]:
    """Entries of a pattern list: one a line, commas also separate; blanks dropped."""
    entries = []
    for line in text.replace(",", "\n").splitlines():
        entry = line.strip()
        if entry:
            entries.append(entry)
    return entries


def candidate_suffixes(domain: str) -> list[str]:
    """The domain itself, then each proper suffix of two labels or more, longest first.

    These are the only pattern suffixes that can match the domain, so a lookup asks for them by
    index instead of scanning the site's patterns.
    """
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def best_match(domain: str, patterns: list[Pattern]) -> Pattern | None:
    """Exact beats any wildcard; among wildcards the longest suffix wins."""
    best: Pattern | None = None
    for pattern in patterns:
        if not pattern.wildcard:
            if pattern.suffix == domain:
                return pattern
            continue
        if domain.endswith("." + pattern.suffix) and (
            best is None or len(pattern.suffix) > len(best.suffix)
        ):
            best = pattern
    return best
