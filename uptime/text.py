"""Rules for text users choose that others see: site and project names."""

import unicodedata

from django.core.exceptions import ValidationError

# Cf: format characters (U+202E right-to-left override, zero-width spaces and
# joiners, U+FEFF): invisible, yet they reorder or hide what is shown.
# Zl, Zp: U+2028 and U+2029 break a line where a name should be one line.
_INVISIBLE = {"Cf", "Zl", "Zp"}


def validate_display_name(value: str) -> None:
    """Refuse a name that would display other than it reads.

    A control character (tab, newline, escape code) garbles the dashboard,
    the logs and notifications; an invisible or direction character lets a
    name pose as another ("moc.knab" shown as "bank.com").
    """
    for ch in value or "":
        category = unicodedata.category(ch)
        if category == "Cc":
            raise ValidationError("The name contains control characters.", code="control")
        if category in _INVISIBLE:
            raise ValidationError(
                f"The name contains an invisible or layout character (U+{ord(ch):04X}); "
                "use visible characters only.",
                code="invisible",
            )
