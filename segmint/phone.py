"""Phone numbers in E.164, the one normaliser for keys (`project.identity`) and hashing
(`delivery.privacy`), so that a number matches and hashes the same wherever it is read.

E.164 is ``+``, the country code and the number, digits only (``+4915112345678``):

- spaces, dots, dashes, slashes and brackets are formatting and dropped, and so is an
  extension at the end (``x12``, ``ext. 12``, ``extension 12``);
- ``+`` or ``00`` starts an international number; any other number is a national number
  of `country_code` with its trunk ``0`` dropped (``0151 1234567`` with 49), or no number
  when there is no country code to read it with (a wrong country would match or hash the
  wrong person); with code 1 an 11-digit number starting with 1 already carries it;
- anything else that is not a digit, fewer than 8 or more than 15 digits, or a number
  whose country code would start with 0, is not a phone number: null.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

_EXTENSION = r"\s*(x|ext\.?|extension)\s*\d+$"
_FORMATTING = r"[\s().\-/]"


def normalize_phone(numbers: pa.ChunkedArray | pa.Array,
                    country_code: str | None = None) -> pa.ChunkedArray | pa.Array:
    """`numbers` (text) in E.164, null where a value is not a phone number (module doc)."""
    text = pc.utf8_trim_whitespace(pc.utf8_lower(numbers))
    text = pc.replace_substring_regex(text, pattern=_EXTENSION, replacement="")
    text = pc.replace_substring_regex(text, pattern=_FORMATTING, replacement="")
    plus, zeros = pc.starts_with(text, "+"), pc.starts_with(text, "00")
    international = pc.or_(plus, zeros)
    digits = pc.if_else(plus, pc.utf8_slice_codeunits(text, 1),
                        pc.if_else(zeros, pc.utf8_slice_codeunits(text, 2), text))
    if country_code is None:
        national = pa.scalar(None, pa.string())
    else:
        code = country_code.strip().lstrip("+")
        local = pc.replace_substring_regex(digits, pattern=r"^0", replacement="")
        national = pc.binary_join_element_wise(code, local, "")
        if code == "1":  # North America: 1 + 10 digits is often written without a +
            already = pc.and_(pc.equal(pc.utf8_length(digits), 11), pc.starts_with(digits, "1"))
            national = pc.if_else(already, digits, national)
    result = pc.if_else(international, digits, national)
    length = pc.utf8_length(result)
    valid = pc.and_(pc.greater_equal(length, 8), pc.less_equal(length, 15))
    valid = pc.and_(valid, pc.match_substring_regex(result, pattern=r"^[1-9][0-9]*$"))
    return pc.if_else(valid, pc.binary_join_element_wise("+", result, ""),
                      pa.scalar(None, pa.string()))
