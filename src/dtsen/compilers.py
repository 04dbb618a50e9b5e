"""Ibis compilers that give Spark DuckDB's semantics where pipeline code meets a difference (and one fix
to Ibis' DuckDB compiler), so one expression means the same on both engines (:mod:`dtsen.engine`).
"""

from __future__ import annotations

import re
import string
from functools import cache
from typing import Any

# -- one regular expression dialect -----------------------------------------------------------------------
# DuckDB runs RE2, Spark runs java.util.regex; pipeline code writes RE2. The Spark compiler below rewrites
# every literal pattern so that Java gives RE2's answer: ``$`` is the end of the text (Java also matches
# before a final line terminator such as U+2028), ``\s`` leaves out the vertical tab, ``\b`` is ASCII, ``.``
# stops only at a newline, ``[[:alpha:]]`` and ``(?P<name>`` exist, ``&&`` in a class is literal, and in
# replacements ``\1`` is a group and ``$`` is a plain character.
_RE2_SPACE = "\\t\\n\\f\\r "  # RE2's \s: no vertical tab
_ASCII_WORD = "[0-9A-Za-z_]"
_OUTSIDE = {
    "s": f"[{_RE2_SPACE}]",
    "S": f"[^{_RE2_SPACE}]",
    "b": f"(?:(?<={_ASCII_WORD})(?!{_ASCII_WORD})|(?<!{_ASCII_WORD})(?={_ASCII_WORD}))",
    "B": f"(?:(?<={_ASCII_WORD})(?={_ASCII_WORD})|(?<!{_ASCII_WORD})(?!{_ASCII_WORD}))",
}
_POSIX = {
    "alnum": "Alnum",
    "alpha": "Alpha",
    "ascii": "ASCII",
    "blank": "Blank",
    "cntrl": "Cntrl",
    "digit": "Digit",
    "graph": "Graph",
    "lower": "Lower",
    "print": "Print",
    "punct": "Punct",
    "space": "Space",
    "upper": "Upper",
    "xdigit": "XDigit",
}
_POSIX_RE = re.compile(r"\[:(\^?)([a-z]+):\]")
_REPEAT_RE = re.compile(r"\{\d+(?:,\d*)?\}")
_FLAGS_RE = re.compile(r"\(\?([imsU]*)(?:-([imsU]*))?[:)]")


def re2_to_java(pattern: str) -> str:
    """An RE2 pattern rewritten for java.util.regex so that both match the same strings."""
    flags = "".join(f for m in _FLAGS_RE.finditer(pattern) for f in m.group(1))
    multiline, dotall = "m" in flags, "s" in flags
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            i = _escape(pattern, i, in_class, out)
        elif in_class:
            posix = _POSIX_RE.match(pattern, i) if c == "[" else None
            if posix and posix.group(2) in _POSIX:
                out.append(f"\\{'P' if posix.group(1) else 'p'}{{{_POSIX[posix.group(2)]}}}")
                i = posix.end()
                continue
            in_class = c != "]"
            out.append({"[": "\\[", "&": "\\&"}.get(c, c))  # Java: [ is a union, && an intersection
            i += 1
        elif c == "[":
            in_class, i = True, i + 1
            out.append("[^" if pattern.startswith("^", i) else "[")
            i += pattern.startswith("^", i)
            if pattern.startswith("]", i):  # a leading ] is a literal in RE2
                out.append("\\]")
                i += 1
        elif c == "(" and (flag_group := _FLAGS_RE.match(pattern, i)):
            on = flag_group.group(1) + ("u" if "i" in flag_group.group(1) else "")  # Unicode case folding
            off = f"-{flag_group.group(2)}" if flag_group.group(2) is not None else ""
            out.append(f"(?{on}{off}{pattern[flag_group.end() - 1]}")
            i = flag_group.end()
        else:
            if c == "$" and not multiline:
                out.append("\\z")  # Java's $ also matches before a final line terminator
            elif c == "." and not dotall:
                out.append("[^\\n]")  # Java's . also stops at \r, U+0085, U+2028, U+2029
            elif c == "{" and not _REPEAT_RE.match(pattern, i):
                out.append("\\{")  # a literal in RE2, an error in Java
            elif pattern.startswith("(?P<", i):
                out.append("(?<")
                i += 3
            else:
                out.append(c)
            i += 1
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool, out: list[str]) -> int:
    """Translate the escape at ``pattern[i]`` (a backslash) into ``out``; returns the next index."""
    nxt = pattern[i + 1]
    if nxt == "Q":  # \Q...\E: literal text in both
        end = pattern.find("\\E", i + 2)
        end = len(pattern) if end < 0 else end + 2
        out.append(pattern[i:end])
        return end
    if nxt in "pP" and i + 2 < len(pattern):  # \pL, \p{Greek}: Java wants 'Is' before a script name
        if pattern[i + 2] == "{":
            close = pattern.index("}", i + 3)
            name, end = pattern[i + 3 : close], close + 1
        else:
            name, end = pattern[i + 2], i + 3
        if name.startswith("^"):
            nxt, name = "P" if nxt == "p" else "p", name[1:]
        out.append(f"\\{nxt}{{{name if name.startswith('Is') else 'Is' + name}}}")
        return end
    octal = re.match(r"[1-7][0-7]{0,2}", pattern[i + 1 : i + 4])
    if octal:  # an octal character in RE2, a back reference in Java
        out.append(f"\\0{octal.group()}")
        return i + 1 + octal.end()
    if in_class and nxt == "s":
        out.append(_RE2_SPACE)
    elif not in_class and nxt in _OUTSIDE:
        out.append(_OUTSIDE[nxt])
    else:
        out.append("\\" + nxt)
    return i + 2


def re2_replacement_to_java(replacement: str) -> str:
    """RE2's rewrite string (``\\1`` a group, ``\\\\`` a backslash) as a Java replacement string."""
    out: list[str] = []
    i = 0
    while i < len(replacement):
        c = replacement[i]
        if c == "\\" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            out.append(f"${nxt}" if nxt.isdigit() else "\\" + nxt)
            i += 2
            continue
        out.append({"$": "\\$", "\\": "\\\\"}.get(c, c))
        i += 1
    return "".join(out)


def _java_literal(text: str) -> str:
    """``text`` as a Java regular expression matching exactly it."""
    return "".join("\\" + c if c in string.punctuation or c == " " else c for c in text)


@cache
def spark_compiler() -> Any:
    """Ibis' PySpark compiler with DuckDB's semantics where the two differ for pipeline code: RE2
    patterns (see :func:`re2_to_java`), ``split`` on a plain delimiter (Spark's SPLIT takes a regular
    expression) and an array index past the end giving NULL (an error on Spark in ANSI mode)."""
    import sqlglot.expressions as sge
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler
    from ibis.expr import operations as ops

    def literal(node: Any) -> str | None:
        return node.value if isinstance(node, ops.Literal) and isinstance(node.value, str) else None

    class Compiler(PySparkCompiler):  # visit_<Op> is how ibis names its visitors
        def _pattern(self, node: Any, compiled: Any) -> Any:
            value = literal(node)
            return compiled if value is None else sge.convert(re2_to_java(value))

        def visit_RegexSearch(self, op: Any, *, arg: Any, pattern: Any) -> Any:  # noqa: N802
            return sge.paren(self.f.regexp_like(arg, self._pattern(op.pattern, pattern)), copy=False)

        def visit_RegexExtract(self, op: Any, *, arg: Any, pattern: Any, index: Any) -> Any:  # noqa: N802
            return self.f.regexp_extract(arg, self._pattern(op.pattern, pattern), index)

        def visit_RegexSplit(self, op: Any, *, arg: Any, pattern: Any) -> Any:  # noqa: N802
            return self.f.split(arg, self._pattern(op.pattern, pattern), -1)

        def visit_RegexReplace(self, op: Any, *, arg: Any, pattern: Any, replacement: Any) -> Any:  # noqa: N802
            value = literal(op.replacement)
            if value is not None:
                replacement = sge.convert(re2_replacement_to_java(value))
            return self.f.regexp_replace(arg, self._pattern(op.pattern, pattern), replacement)

        def visit_StringSplit(self, op: Any, *, arg: Any, delimiter: Any) -> Any:  # noqa: N802
            value = literal(op.delimiter)
            if value is not None:
                delimiter = sge.convert(_java_literal(value))
            return self.f.split(arg, delimiter, -1)

        def visit_ArrayIndex(self, op: Any, *, arg: Any, index: Any) -> Any:  # noqa: N802
            if isinstance(op.index, ops.Literal):
                return self.f.try_element_at(arg, index + 1 if op.index.value >= 0 else index)
            return self.if_(
                index >= 0, self.f.try_element_at(arg, index + 1), self.f.try_element_at(arg, index)
            )

        # Spark parses `a <> b IN (2, 3)` as `(a <> b) IN (2, 3)` (likewise RLIKE, LIKE, BETWEEN and IS
        # NULL), and ibis writes no parentheses there
        def visit_InValues(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_InValues(op, **kw), copy=False)

        def visit_InSubquery(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_InSubquery(op, **kw), copy=False)

        def visit_Between(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_Between(op, **kw), copy=False)

        def visit_StringSQLLike(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_StringSQLLike(op, **kw), copy=False)

        def visit_StringSQLILike(self, op: Any, **kw: Any) -> Any:  # noqa: N802
            return sge.paren(super().visit_StringSQLILike(op, **kw), copy=False)

        # NULL is NULL, as on DuckDB (ibis' PySpark compiler also counts a float NaN as null)
        def visit_IsNull(self, op: Any, *, arg: Any) -> Any:  # noqa: N802
            return sge.paren(arg.is_(sge.Null()), copy=False)

        def visit_NotNull(self, op: Any, *, arg: Any) -> Any:  # noqa: N802
            return sge.paren(arg.is_(sge.not_(sge.Null())), copy=False)

    return Compiler()


@cache
def duckdb_compiler() -> Any:
    """Ibis' DuckDB compiler, except that ``x.first(include_null=False).over(w)`` keeps its IGNORE NULLS:
    ibis rewrites a windowed first() into FIRST_VALUE and drops the flag on DuckDB (its PySpark compiler
    always ignores nulls), so the same expression meant different things on the two engines."""
    import sqlglot.expressions as sge
    from ibis.backends.sql.compilers.duckdb import DuckDBCompiler

    class Compiler(DuckDBCompiler):
        def visit_FirstValue(self, op: Any, *, arg: Any) -> Any:  # noqa: N802
            return sge.IgnoreNulls(this=self.f.first_value(arg))

    return Compiler()
