"""A service's refusal, as staff read it in their language.

The domain services raise their refusals in English (logs and tests read those);
the strings are marked for translation where they are defined or in the app's
labels module, so a page shows the translation when the catalogue has one and
the English text otherwise.
"""

from django.utils.translation import gettext


def translated(error: Exception) -> str:
    return gettext(str(error))
