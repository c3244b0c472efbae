"""Checks shared by models, forms, serializers and domain functions."""

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Everything str.splitlines() breaks on: a title goes into mail subjects, where any of these
# would split the header (and Django refuses to send it).
_LINE_BREAK = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_LINE_BREAKS = re.compile(rf"\s*{_LINE_BREAK.pattern}+\s*")

SINGLE_LINE_MESSAGE = "Must be a single line: remove the line breaks."


def has_line_break(value: str) -> bool:
    return bool(_LINE_BREAK.search(value or ""))


def fold_lines(value: str) -> str:
    """One line from several: each run of line breaks (and the spaces around it) becomes a space."""
    return _LINE_BREAKS.sub(" ", value or "").strip()


@deconstructible
class SingleLineValidator:
    message = SINGLE_LINE_MESSAGE
    code = "single_line"

    def __call__(self, value):
        if has_line_break(str(value)):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other):
        return isinstance(other, SingleLineValidator)


validate_single_line = SingleLineValidator()
