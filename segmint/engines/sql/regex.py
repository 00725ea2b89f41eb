"""RE2 patterns (what `matches` means) rewritten for the regex engines of SQL dialects.

DuckDB and BigQuery use RE2 itself, so their patterns pass through unchanged. Spark uses
Java regular expressions and PostgreSQL and Snowflake POSIX-style ones; a pattern is
rewritten for them only where every construct has an exact equivalent (RE2's `.` never
matches a newline: `[^\\n]`; its `$` is the end of the text: Java's `\\z`; `\\d \\s \\w` are
ASCII classes: spelled out), and refused otherwise, so no dialect ever matches a different
set of strings than RE2 would.
"""

from __future__ import annotations

import enum

import attrs


class Flavour(enum.Enum):
    """The regex engine a dialect's `matches` runs on."""

    RE2 = "re2"
    JAVA = "java"
    POSIX = "posix"


class UnmatchableRegex(Exception):
    """A pattern a dialect's regex engine cannot match exactly as RE2 does."""


#: RE2's Perl classes, which are ASCII-only: spelled out so no engine reads them per locale.
_PERL_CLASSES = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_"}
_NEGATED = {"D": "d", "S": "s", "W": "w"}
#: Characters that stand for themselves once escaped, in every flavour.
_PUNCTUATION = set("\\.+*?()|[]{}^$-/#&~ '\"!@%=:;,<>`")
_SPECIAL = set("\\.+*?()|[]{}^$")


@attrs.frozen
class _Writer:
    flavour: Flavour

    def literal(self, char: str) -> str:
        """One character matched as itself."""
        if char in _SPECIAL:
            return "\\" + char
        if char == "\n":
            return "\\n"
        if char == "\t":
            return "\\t"
        return char

    def class_literal(self, char: str) -> str:
        """One character inside a bracket expression."""
        if char in "[]\\^-" or (char == "&" and self.flavour is Flavour.JAVA):
            return "\\" + char
        if char == "\n":
            return "\\n"
        return char


def translate(pattern: str, flavour: Flavour) -> str:
    """The pattern for `flavour`, matching exactly the strings RE2 matches; raise
    `UnmatchableRegex` saying which construct has no exact equivalent."""
    if flavour is Flavour.RE2:
        return pattern
    return _Translator(pattern, _Writer(flavour)).run()


class _Translator:
    def __init__(self, pattern: str, writer: _Writer) -> None:
        self.pattern, self.writer, self.flavour = pattern, writer, writer.flavour
        self.i = 0
        self.out: list[str] = []

    def peek(self, offset: int = 0) -> str:
        index = self.i + offset
        return self.pattern[index] if index < len(self.pattern) else ""

    def run(self) -> str:
        if self.pattern.startswith("(?"):
            end = self.pattern.find(")")
            if end > 2 and self.pattern[2:end].isalpha():
                raise UnmatchableRegex(f"the flags '(?{self.pattern[2:end]})' (case folding and "
                                       f"line modes differ between regex engines)")
        while self.i < len(self.pattern):
            char = self.pattern[self.i]
            self.i += 1
            if char == "\\":
                self.out.append(self.escape(in_class=False))
            elif char == "[":
                self.out.append(self.bracket())
            elif char == ".":
                self.out.append("[^\\n]")
            elif char == "$":
                self.out.append("\\z" if self.flavour is Flavour.JAVA else "$")
            elif char == "(":
                self.out.append(self.group())
            elif char == "{":
                self.out.append(self.repeat())
            elif char in "^)|*+?":
                if char in "*+?" and self.peek() == "+":
                    raise UnmatchableRegex("a possessive repetition")
                self.out.append(char)
            else:
                self.out.append(self.writer.literal(char))
        return "".join(self.out)

    def group(self) -> str:
        if self.peek() != "?":
            return "("
        if self.pattern.startswith("?:", self.i):
            self.i += 2
            return "(?:"
        if self.pattern.startswith("?P<", self.i) or self.pattern.startswith("?<", self.i):
            end = self.pattern.find(">", self.i)
            self.i = end + 1
            return "(?:"
        raise UnmatchableRegex("a group with flags (case folding and line modes differ between "
                               "regex engines)")

    def repeat(self) -> str:
        end = self.pattern.find("}", self.i)
        body = self.pattern[self.i:end] if end >= 0 else ""
        low, _, high = body.partition(",")
        if end < 0 or not low.isdigit() or (high and not high.isdigit()):
            return self.writer.literal("{")
        self.i = end + 1
        if self.flavour is Flavour.POSIX and int(high or low) > 255:
            raise UnmatchableRegex("a repetition count above 255")
        return "{" + body + "}"

    def escape(self, *, in_class: bool) -> str:
        char = self.peek()
        self.i += 1
        if char == "":
            raise UnmatchableRegex("a trailing backslash")
        if char in _PERL_CLASSES:
            return _PERL_CLASSES[char] if in_class else f"[{_PERL_CLASSES[char]}]"
        if char in _NEGATED:
            if in_class:
                raise UnmatchableRegex(f"'\\{char}' inside a character class")
            return f"[^{_PERL_CLASSES[_NEGATED[char]]}]"
        if char in "ntfr":
            value = {"n": "\n", "t": "\t", "f": "\f", "r": "\r"}[char]
            return self._char(value, in_class)
        if char == "x":
            return self._char(self.hex_escape(), in_class)
        if char == "A" and not in_class:
            return "^"
        if char == "z" and not in_class:
            return "\\z" if self.flavour is Flavour.JAVA else "$"
        if char in _PUNCTUATION:
            return self._char(char, in_class)
        raise UnmatchableRegex(f"the escape '\\{char}'")

    def _char(self, value: str, in_class: bool) -> str:
        if in_class:
            return self.writer.class_literal(value)
        if self.flavour is Flavour.POSIX and value in "\f\r":
            raise UnmatchableRegex("a form feed or carriage return escape")
        return self.writer.literal(value)

    def hex_escape(self) -> str:
        if self.peek() == "{":
            end = self.pattern.find("}", self.i)
            digits = self.pattern[self.i + 1:end]
            self.i = end + 1
        else:
            digits = self.pattern[self.i:self.i + 2]
            self.i += 2
        return chr(int(digits, 16))

    def bracket(self) -> str:
        parts = ["["]
        if self.peek() == "^":
            parts.append("^")
            self.i += 1
        first = True
        while True:
            char = self.peek()
            self.i += 1
            if char == "":
                raise UnmatchableRegex("an unclosed character class")
            if char == "]" and not first:
                break
            first = False
            if char == "[" and self.peek() == ":":
                raise UnmatchableRegex("a POSIX character class like [:alpha:]")
            if char == "\\":
                parts.append(self.escape(in_class=True))
            elif char == "-" and parts[-1] not in ("[", "^") and self.peek() != "]":
                parts.append("-")
            else:
                parts.append(self.writer.class_literal(char))
        return "".join(parts) + "]"
