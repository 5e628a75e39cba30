"""Check the LaTeX table fragments that `make tables` writes, before a paper build trips on them.

    python -m analysis.latex_check report/tables/*.tex

Two layers, so CI without TeX still catches most mistakes:

* `syntax_check(text, kind)` -- a small TeX-aware scanner, no TeX needed: balanced braces, properly
  nested environments, per-tabular column spec parsing and cell counts, rows ending with ``\\``,
  booktabs rules only between rows, unescaped special characters outside math, brace groups after
  ``\\textbf`` & co., and (``kind="macros"``) one ``\\newcommand{\\Name}{...}`` per line with a
  letters-only, unique name.
* `compile_fragments(paths, workdir)` -- wraps the fragments in a minimal article (booktabs +
  amsmath), inputs the macro file(s) first, uses every macro once, and runs pdflatex (or lualatex,
  xelatex, tectonic) with ``-interaction=nonstopmode -halt-on-error``.  The ``!`` lines and their
  ``l.<n>`` context from the log are returned, attributed to the fragment that raised them; after a
  failure the fragments after the failing one are compiled again, so every broken file is named.

`check_files(paths)` always runs the syntax check (plus: every ``\\carps...`` macro a table uses is
defined in a macro file given with it) and compiles too when an engine is on PATH; the engine used,
or its absence, is logged.  Messages look like ``path:line: what is wrong``.

Not covered without TeX: whether a command exists at all, which packages a construct needs
(``>{..}`` columns need `array`, ``\\resizebox`` needs `graphicx`: pass ``--package``), and layout.
"""
from __future__ import annotations

import argparse
import bisect
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ENGINES = ("pdflatex", "lualatex", "xelatex", "tectonic")
DEFAULT_PACKAGES = ("booktabs", "amsmath")                # what the paper preamble is assumed to load

# --------------------------------------------------------------------------------------------------
# vocabulary of the scanner

TABULAR_ENVS = {"tabular", "tabular*", "tabularx", "longtable", "array"}
MATH_ENVS = {"equation", "equation*", "align", "align*", "gather", "gather*", "multline", "multline*",
             "displaymath", "math"}
RULES = {"toprule", "midrule", "bottomrule", "cmidrule", "hline", "cline", "addlinespace",
         "specialrule", "morecmidrules"}
# commands whose (next) argument must be a brace group; the group itself is scanned like text
BRACE_ARG = {"textbf", "textit", "textsl", "textsc", "textrm", "textsf", "texttt", "textup", "textmd",
             "emph", "underline", "textsuperscript", "textsubscript", "caption", "mbox", "makebox",
             "hspace", "vspace", "phantom", "hphantom", "vphantom", "makecell", "shortstack",
             "footnote", "tnote", "text", "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "boldsymbol",
             "ensuremath", "raisebox", "rotatebox", "resizebox", "scalebox", "sqrt", "frac", "fbox"}
# commands whose argument is taken verbatim (labels, file names, URLs may contain _ % # ...)
RAW_ARG = {"label", "ref", "eqref", "pageref", "autoref", "cref", "Cref", "cite", "citep", "citet",
           "input", "include", "url", "href", "includegraphics", "usepackage", "documentclass",
           "RequirePackage", "color", "textcolor", "rowcolor", "cellcolor", "definecolor"}
MATH_ONLY = {"pm", "mp", "times", "cdot", "div", "leq", "geq", "le", "ge", "neq", "approx", "sim",
             "infty", "frac", "sqrt", "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "boldsymbol",
             "alpha", "beta", "gamma", "delta", "epsilon", "lambda", "mu", "sigma", "tau", "rightarrow",
             "leftarrow", "uparrow", "downarrow", "star", "ast", "circ", "bullet", "dagger", "ddagger"}
LABEL_LIKE = {"label", "ref", "eqref", "pageref", "autoref", "cref", "Cref"}
NEWCOMMANDS = {"newcommand", "renewcommand", "providecommand"}
PREAMBLE_ONLY = {"documentclass", "usepackage", "RequirePackage"}
_RULE_OR_END_LINE = re.compile(r"\s*\\(?:toprule|midrule|bottomrule|cmidrule|hline|cline|addlinespace|"
                               r"specialrule|end)(?![A-Za-z])")
_UNESCAPED_AMP = re.compile(r"(?<!\\)&")
_BLANK_REST = re.compile(r"[ \t\r]*\n")
_WORD = re.compile(r"[A-Za-z]+")
_MACRO_NAME = re.compile(r"\\[A-Za-z]+")


def _strip_comment(line: str) -> str:
    """The line without its TeX comment (an unescaped %)."""
    i = 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == "%":
            return line[:i]
        i += 1
    return line


def _take_group(text: str, i: int) -> tuple[str, int] | None:
    """text[i] == '{': (content, index after the matching '}'), or None when it never closes."""
    assert text[i] == "{"
    depth, j = 0, i
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "%":
            nl = text.find("\n", j)
            j = len(text) if nl < 0 else nl
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
        j += 1
    return None


# --------------------------------------------------------------------------------------------------
# column specs

def parse_colspec(spec: str) -> tuple[int | None, str | None]:
    """Number of columns a tabular spec defines, or (None, reason) when it cannot be parsed.

    Handles l c r X S s, p/m/b{width}, w{align}{width}, D{.}{.}{n}, | and !{..} @{..} >{..} <{..}
    (no columns), and *{n}{sub-spec} (n times the sub-spec's count).
    """
    n, i = 0, 0

    def group(at: int) -> tuple[str, int]:
        while at < len(spec) and spec[at].isspace():
            at += 1
        if at >= len(spec) or spec[at] != "{":
            raise ValueError(f"expected {{...}} after {spec[i]!r}")
        got = _take_group(spec, at)
        if got is None:
            raise ValueError("unbalanced braces")
        return got

    try:
        while i < len(spec):
            c = spec[i]
            if c.isspace() or c == "|":
                i += 1
            elif c in "lcrXs":
                n, i = n + 1, i + 1
            elif c == "S":  # siunitx, optional [options]
                n, i = n + 1, i + 1
                if i < len(spec) and spec[i] == "[":
                    close = spec.find("]", i)
                    if close < 0:
                        raise ValueError("unclosed [ after S")
                    i = close + 1
            elif c in "pmb":
                _, i = group(i + 1)
                n += 1
            elif c == "w":
                _, i = group(i + 1)
                _, i = group(i)
                n += 1
            elif c == "D":
                _, i = group(i + 1)
                _, i = group(i)
                _, i = group(i)
                n += 1
            elif c in "@!<>":
                _, i = group(i + 1)
            elif c == "*":
                count, i = group(i + 1)
                sub, i = group(i)
                if not count.strip().isdigit():
                    raise ValueError(f"*{{{count}}}: repeat count is not a number")
                sub_n, why = parse_colspec(sub)
                if sub_n is None:
                    raise ValueError(why)
                n += int(count) * sub_n
            else:
                raise ValueError(f"unknown column type {c!r}")
    except ValueError as exc:
        return None, str(exc)
    if n == 0:
        return None, "defines no columns"
    return n, None


# --------------------------------------------------------------------------------------------------
# the scanner

@dataclass
class _Tab:
    spec: str
    ncols: int | None
    line: int                  # line of \begin{tabular}
    base: int                  # brace depth at \begin
    row_cells: int = 0         # cells already closed by & in the current row (multicolumn spans counted)
    span: int = 1              # span of the current cell
    cell_content: bool = False
    row_content: bool = False
    row_line: int = 0          # line where the current row's content starts


@dataclass
class _Env:
    name: str
    line: int
    tab: _Tab | None = None


class _Scanner:
    def __init__(self, text: str, kind: str):
        self.text, self.kind, self.n = text, kind, len(text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.errors: list[tuple[int, str]] = []
        self.braces: list[tuple[int, bool]] = []      # (position, opens a math group)
        self.envs: list[_Env] = []
        self.mismatched: list[str] = []               # envs popped by a mismatched \end (their \end is expected later)
        self.math: tuple[int, int] | None = None      # ($ position, brace depth) of an open $...$ / \(...\)
        self.math_envs = 0
        self.math_group_pending = False
        self.body_depth: int | None = None            # brace depth of a \newcommand body (# allowed inside)
        self.tabulars = 0
        self.i = 0

    # helpers ---------------------------------------------------------------------------------------
    def line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.line_starts, pos)

    def err(self, pos: int, msg: str) -> None:
        self.errors.append((self.line_of(pos), msg))

    def in_math(self) -> bool:
        return self.math is not None or self.math_envs > 0 or any(m for _, m in self.braces)

    def tab(self) -> _Tab | None:
        """The tabular whose cells we are in: only when it is the innermost environment."""
        return self.envs[-1].tab if self.envs else None

    def skip_space(self, i: int, newlines: bool = True) -> int:
        while i < self.n:
            c = self.text[i]
            if c in " \t\r" or (newlines and c == "\n"):
                i += 1
            elif c == "%":
                nl = self.text.find("\n", i)
                i = self.n if nl < 0 else nl + 1
            else:
                break
        return i

    def skip_optional(self, i: int, open_: str = "[", close: str = "]") -> int:
        j = self.skip_space(i)
        if j < self.n and self.text[j] == open_:
            k = self.text.find(close, j)
            if k >= 0:
                return k + 1
        return i

    def raw_group(self, i: int, what: str) -> tuple[str, int] | None:
        """Read a verbatim {...} argument at i (after spaces); report and return None if absent."""
        j = self.skip_space(i)
        if j >= self.n or self.text[j] != "{":
            self.err(i, f"{what} must be followed by a {{...}} argument")
            return None
        got = _take_group(self.text, j)
        if got is None:
            self.err(j, f"'{{' of the {what} argument is never closed")
            return None
        return got

    def content(self, pos: int) -> None:
        """Something typeset at pos: the current tabular cell is not empty."""
        t = self.tab()
        if t is not None:
            if not (t.row_content or t.cell_content):
                t.row_line = self.line_of(pos)
            t.cell_content = t.row_content = True

    # tabular rows ----------------------------------------------------------------------------------
    def recover_cell(self, t: _Tab, pos: int, where: str) -> None:
        """& and \\ end a cell: braces and $ opened in it must be closed by then."""
        if self.math is not None and self.math[1] >= t.base:
            self.err(self.math[0], f"'$' is not closed before {where} on line {self.line_of(pos)}")
            self.math = None
        while len(self.braces) > t.base:
            bpos, _ = self.braces.pop()
            self.err(bpos, f"'{{' is not closed before {where} on line {self.line_of(pos)}")

    def end_row(self, t: _Tab, pos: int, check: bool = True) -> None:
        total = t.row_cells + t.span
        if check and (t.row_content or t.cell_content) and t.ncols is not None and total != t.ncols:
            msg = f"row has {total} cells, expected {t.ncols} (column spec {{{t.spec}}} on line {t.line})"
            self.errors.append((t.row_line or self.line_of(pos), msg))
        t.row_cells, t.span, t.cell_content, t.row_content, t.row_line = 0, 1, False, False, 0

    def missing_row_end(self, t: _Tab, pos: int, before: str) -> None:
        line = t.row_line or self.line_of(pos)
        self.errors.append((line, f"row does not end with \\\\ (before {before})"))
        self.end_row(t, pos)

    def at_newline(self, pos: int) -> None:
        """One row per line is how our tables are written: a complete row must end with \\."""
        t = self.tab()
        if t is None or not t.cell_content or len(self.braces) != t.base or self.math is not None:
            return
        nxt = None
        for k in range(bisect.bisect_right(self.line_starts, pos), len(self.line_starts)):
            end = self.line_starts[k + 1] - 1 if k + 1 < len(self.line_starts) else self.n
            candidate = _strip_comment(self.text[self.line_starts[k]:end])
            if candidate.strip():
                nxt = candidate
                break
        if nxt is None:
            return
        if _RULE_OR_END_LINE.match(nxt):
            self.missing_row_end(t, pos, nxt.strip().split("{")[0].split("(")[0].split("[")[0])
        elif t.ncols is not None and t.row_cells + t.span >= t.ncols and _UNESCAPED_AMP.search(nxt):
            self.missing_row_end(t, pos, "the next row")

    # main loop -------------------------------------------------------------------------------------
    def run(self) -> list[tuple[int, str]]:
        text = self.text
        while self.i < self.n:
            i, c = self.i, text[self.i]
            self.i += 1
            if c == "\\":
                self.control(i)
            elif c == "%":
                if i > 0 and (text[i - 1].isalnum() or text[i - 1] in ".)"):
                    self.err(i, f"unescaped % after {text[max(0, i - 8):i].split()[-1]!r} comments out "
                                "the rest of the line (write \\%)")
                    self.content(i)                     # reported: read on as if it were \%, no cascade
                    continue
                nl = text.find("\n", i)
                self.i = self.n if nl < 0 else nl       # keep the newline: it still ends the source line
            elif c == "{":
                self.content(i)
                self.braces.append((i, self.math_group_pending))
                self.math_group_pending = False
            elif c == "}":
                self.close_brace(i)
            elif c == "$":
                self.dollar(i)
            elif c == "&":
                self.ampersand(i)
            elif c in "_^":
                if not self.in_math():
                    fix = "\\_" if c == "_" else "\\textasciicircum{} or $^{...}$"
                    self.err(i, f"unescaped {c} outside math mode (write {fix})")
                self.content(i)
            elif c == "#":
                if not (self.body_depth is not None and len(self.braces) > self.body_depth
                        and i + 1 < self.n and (text[i + 1].isdigit() or text[i + 1] == "#")):
                    self.err(i, "unescaped # (write \\#)")
                self.content(i)
            elif c == "\n":
                if self.math is not None and _BLANK_REST.match(text, i + 1):
                    self.err(self.math[0], "'$' is not closed before a blank line")
                    self.math = None
                self.at_newline(i)
            elif c in " \t\r":
                pass
            else:
                self.content(i)
        self.finish()
        return self.errors

    def finish(self) -> None:
        if self.math is not None:
            self.err(self.math[0], "'$' is never closed")
        for bpos, _ in self.braces:
            self.err(bpos, "'{' is never closed")
        for env in self.envs:
            self.errors.append((env.line, f"\\begin{{{env.name}}} is never closed"))
        if self.kind == "table" and self.tabulars == 0:
            self.errors.append((1, "no tabular environment found"))

    def close_brace(self, i: int) -> None:
        t = self.tab()
        floor = t.base if t is not None else 0
        if len(self.braces) <= floor:
            self.err(i, "unmatched '}'")
            return
        if self.math is not None and self.math[1] >= len(self.braces):
            self.err(self.math[0], f"'$' is not closed before the '}}' on line {self.line_of(i)}")
            self.math = None
        self.braces.pop()
        if self.body_depth is not None and len(self.braces) <= self.body_depth:
            self.body_depth = None

    def dollar(self, i: int) -> None:
        self.content(i)
        if self.text.startswith("$$", i):
            self.err(i, "$$ display math in a fragment (use $...$)")
            self.i += 1
            return
        if self.math is None:
            self.math = (i, len(self.braces))
        elif self.math[1] != len(self.braces):
            self.err(i, f"'$' closes math opened on line {self.line_of(self.math[0])} inside a different "
                        "{...} group")
            self.math = None
        else:
            self.math = None

    def ampersand(self, i: int) -> None:
        t = self.tab()
        if t is None:
            self.err(i, "unescaped & outside a tabular (write \\&)")
            return
        self.recover_cell(t, i, "&")
        t.row_cells += t.span
        t.span, t.cell_content = 1, False
        if not t.row_content:
            t.row_line = self.line_of(i)
        t.row_content = True

    # control sequences -----------------------------------------------------------------------------
    def control(self, i: int) -> None:
        text = self.text
        if self.i >= self.n:
            self.err(i, "lone backslash at end of file")
            return
        if not text[self.i].isalpha():                  # control symbol \\ \_ \% \{ ...
            sym = text[self.i]
            self.i += 1
            if sym == "\\":
                self.row_break(i)
            elif sym in "([":
                if self.math is not None:
                    self.err(i, f"\\{sym} inside math")
                self.math = (i, len(self.braces))
                self.content(i)
            elif sym in ")]":
                if self.math is None:
                    self.err(i, f"\\{sym} without matching opening")
                self.math = None
            else:
                self.content(i)
            return
        m = _WORD.match(text, self.i)
        name = m.group(0)
        self.i = m.end()
        after = self.i
        if name == "begin":
            self.begin(i)
        elif name == "end":
            self.end(i)
        elif name in RULES:
            self.rule(i, name)
        elif name == "multicolumn":
            self.multicolumn(i)
        elif name in NEWCOMMANDS:
            self.newcommand(i, name)
        elif name in RAW_ARG:
            if name in PREAMBLE_ONLY:
                self.err(i, f"\\{name} in a fragment (the document that \\inputs it loads packages)")
            self.i = self.skip_optional(self.i)
            got = self.raw_group(self.i, f"\\{name}")
            if got is not None:
                self.i = got[1]                         # (\href, \textcolor: 2nd argument scanned as text)
                bad = sorted(set(re.findall(r"[\\{}#%$&~^\s]", got[0].strip())))
                if name in LABEL_LIKE and bad:
                    self.err(i, f"\\{name}{{{got[0]}}}: key contains {' '.join(map(repr, bad))}")
            self.content(i)
        elif name == "verb":
            delim = text[self.i:self.i + 1]
            close = text.find(delim, self.i + 1) if delim else -1
            if not delim or close < 0 or "\n" in text[self.i:close]:
                self.err(i, "\\verb without a closing delimiter on the same line")
            else:
                self.i = close + 1
            self.content(i)
        else:
            if name in MATH_ONLY and not self.in_math():
                self.err(i, f"\\{name} outside math mode (write $\\{name}$)")
            if name in BRACE_ARG:
                j = self.skip_space(self.skip_optional(after))
                if name in ("raisebox", "resizebox", "scalebox", "rotatebox", "makebox"):
                    j = self.skip_space(after)
                if j >= self.n or text[j] != "{":
                    self.err(i, f"\\{name} must be followed by a {{...}} group")
                else:
                    self.i = j
                    if name == "ensuremath":
                        self.math_group_pending = True
            self.content(i)

    def row_break(self, i: int) -> None:
        t = self.tab()
        j = self.skip_space(self.i)
        if j < self.n and self.text[j] == "*":
            self.i = j = j + 1
        self.i = self.skip_optional(self.i)
        if t is None:
            return                                       # a line break in a caption or cell paragraph
        self.recover_cell(t, i, "\\\\")
        if not (t.row_content or t.cell_content):
            t.row_line = self.line_of(i)
            return                                       # \\ alone: vertical space, no row to count
        self.end_row(t, i)

    def begin(self, i: int) -> None:
        got = self.raw_group(self.i, "\\begin")
        if got is None:
            return
        name, self.i = got[0].strip(), got[1]
        if name != got[0] or not re.fullmatch(r"[A-Za-z]+\*?", name):
            self.err(i, f"bad environment name {got[0]!r} (letters and an optional *, no spaces)")
        self.content(i)
        env = _Env(name, self.line_of(i))
        if name == "document":
            self.err(i, "\\begin{document} in a fragment (it is \\input into a document)")
        if name in MATH_ENVS:
            self.math_envs += 1
        if name in TABULAR_ENVS:
            self.tabulars += 1
            if name in ("tabular*", "tabularx"):
                width = self.raw_group(self.i, f"\\begin{{{name}}} width")
                if width is None:
                    self.envs.append(env)
                    return
                self.i = width[1]
            self.i = self.skip_optional(self.i)
            spec = self.raw_group(self.i, f"\\begin{{{name}}} column spec")
            ncols = None
            spec_text = ""
            if spec is not None:
                spec_text, self.i = spec[0], spec[1]
                ncols, why = parse_colspec(spec_text)
                if ncols is None:
                    self.err(i, f"cannot parse column spec {{{spec_text}}}: {why}")
            env.tab = _Tab(spec_text, ncols, env.line, len(self.braces))
        elif name in ("table", "table*", "figure", "figure*"):
            self.i = self.skip_optional(self.i)
        self.envs.append(env)

    def end(self, i: int) -> None:
        got = self.raw_group(self.i, "\\end")
        if got is None:
            return
        name, self.i = got[0].strip(), got[1]
        if name != got[0] or not re.fullmatch(r"[A-Za-z]+\*?", name):
            self.err(i, f"bad environment name {got[0]!r} (letters and an optional *, no spaces)")
        line = self.line_of(i)
        if name == "document":
            self.err(i, "\\end{document} in a fragment")
        if self.math is not None:
            self.err(self.math[0], f"'$' is not closed before \\end{{{name}}} on line {line}")
            self.math = None
        if not self.envs:
            if name in self.mismatched:
                self.mismatched.remove(name)
            else:
                self.err(i, f"\\end{{{name}}} without a matching \\begin{{{name}}}")
            return
        top = self.envs[-1]
        if top.tab is not None and top.name == name:
            t = top.tab
            self.recover_cell(t, i, f"\\end{{{name}}}")
            if t.cell_content:
                self.missing_row_end(t, i, f"\\end{{{name}}}")
            elif t.row_content:
                self.end_row(t, i)
        if top.name == name:
            self.pop_env()
            return
        if name in self.mismatched:                     # the \end of an env already reported
            self.mismatched.remove(name)
            return
        self.err(i, f"\\end{{{name}}} does not match \\begin{{{top.name}}} on line {top.line}")
        if any(e.name == name for e in self.envs):      # close down to the env being ended
            while self.envs[-1].name != name:
                self.mismatched.append(self.pop_env().name)
            self.pop_env()

    def pop_env(self) -> _Env:
        env = self.envs.pop()
        if env.name in MATH_ENVS:
            self.math_envs -= 1
        if env.tab is not None:
            del self.braces[env.tab.base:]
        return env

    def rule(self, i: int, name: str) -> None:
        t = self.tab()
        if t is None:
            self.err(i, f"\\{name} outside a tabular")
        elif len(self.braces) != t.base:
            self.err(i, f"\\{name} inside a {{...}} group")
        elif t.row_content or t.cell_content:
            msg = (f"row does not end with \\\\ (before \\{name} on line {self.line_of(i)}; "
                   "booktabs rules go between rows)")
            self.errors.append((t.row_line, msg))
            self.end_row(t, i)
        if name in ("cmidrule", "cline"):
            self.i = self.skip_optional(self.i)
            j = self.skip_space(self.i)
            if j < self.n and self.text[j] == "(":
                k = self.text.find(")", j)
                if k < 0 or not re.fullmatch(r"(?:[lr](?:\{[^{}]*\})?)*", self.text[j + 1:k]):
                    self.err(i, f"\\{name}: bad trim spec (expected e.g. (lr) or (l{{.5em}}))")
                self.i = j if k < 0 else k + 1
            got = self.raw_group(self.i, f"\\{name}")
            if got is None:
                return
            self.i = got[1]
            m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", got[0])
            if not m:
                self.err(i, f"\\{name}{{{got[0]}}}: expected {{a-b}} column range")
            elif t is not None and t.ncols is not None:
                a, b = int(m.group(1)), int(m.group(2))
                if not 1 <= a <= b <= t.ncols:
                    self.err(i, f"\\{name}{{{got[0]}}} is outside columns 1-{t.ncols}")
        elif name == "addlinespace":
            self.i = self.skip_optional(self.i)
        elif name == "specialrule":
            for _ in range(3):
                got = self.raw_group(self.i, "\\specialrule")
                if got is None:
                    return
                self.i = got[1]

    def multicolumn(self, i: int) -> None:
        t = self.tab()
        if t is None:
            self.err(i, "\\multicolumn outside a tabular")
        elif t.cell_content:
            self.err(i, "\\multicolumn must be the first thing in its cell")
        count = self.raw_group(self.i, "\\multicolumn")
        if count is None:
            return
        self.i = count[1]
        spec = self.raw_group(self.i, "\\multicolumn column spec")
        if spec is None:
            return
        self.i = spec[1]
        n_spec, why = parse_colspec(spec[0])
        if n_spec != 1:
            self.err(i, f"\\multicolumn spec {{{spec[0]}}} must define exactly one column"
                        + (f" ({why})" if why else ""))
        j = self.skip_space(self.i)
        if j >= self.n or self.text[j] != "{":
            self.err(i, "\\multicolumn needs a third {...} argument (the content)")
        span = int(count[0].strip()) if count[0].strip().isdigit() else None
        if span is None or span < 1:
            self.err(i, f"\\multicolumn{{{count[0]}}}: span must be a positive integer")
        elif t is not None:
            t.span = span
        self.content(i)

    def newcommand(self, i: int, name: str) -> None:
        j = self.skip_space(self.i)
        if j < self.n and self.text[j] == "*":
            j += 1
        j = self.skip_space(j)
        if j < self.n and self.text[j] == "{":
            got = _take_group(self.text, j)
            if got is None:
                self.err(j, f"'{{' of the \\{name} name is never closed")
                self.i = self.n
                return
            j = got[1]
        elif j < self.n and self.text[j] == "\\":
            m = re.compile(r"\\(?:[A-Za-z]+|.)").match(self.text, j)
            j = m.end()
        else:
            self.err(i, f"\\{name} must be followed by the macro name")
            return
        j = self.skip_optional(j)                       # [n] arguments
        j = self.skip_optional(j)                       # [default]
        k = self.skip_space(j)
        if k >= self.n or self.text[k] != "{":
            self.err(i, f"\\{name} needs a {{...}} body")
            self.i = j
            return
        self.i = k
        self.body_depth = len(self.braces)


def _format(errors: Iterable[tuple[int, str]], name: str | None) -> list[str]:
    prefix = f"{name}:" if name else "line "
    return [f"{prefix}{line}: {msg}" for line, msg in sorted(errors, key=lambda e: e[0])]


# --------------------------------------------------------------------------------------------------
# macro files

_DEF_START = re.compile(r"\\(newcommand|renewcommand|providecommand)\*?\s*")


def _check_macro_lines(text: str) -> list[tuple[int, str]]:
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        m = _DEF_START.match(line)
        if not m:
            errors.append((lineno, f"expected \\newcommand{{\\Name}}{{...}}, got {line[:40]!r}"))
            continue
        if m.group(1) != "newcommand":
            errors.append((lineno, f"use \\newcommand, not \\{m.group(1)} (a name clash must fail loudly)"))
        rest = line[m.end():]
        if not rest.startswith("{"):
            errors.append((lineno, "macro name must be in braces: \\newcommand{\\Name}{...}"))
            continue
        got = _take_group(rest, 0)
        if got is None:
            errors.append((lineno, "'{' of the macro name is never closed on this line"))
            continue
        macro, rest = got[0].strip(), rest[got[1]:].lstrip()
        if not macro.startswith("\\"):
            errors.append((lineno, f"macro name {macro!r} must start with a backslash"))
        elif not _MACRO_NAME.fullmatch(macro):
            bad = sorted({ch for ch in macro[1:] if not ch.isascii() or not ch.isalpha()})
            errors.append((lineno, f"macro name {macro} must be letters only (found {''.join(bad)!r})"))
        elif macro in seen:
            errors.append((lineno, f"duplicate macro {macro} (first defined on line {seen[macro]})"))
        else:
            seen[macro] = lineno
        am = re.match(r"\[\s*(\d)\s*\]\s*", rest)
        if am:
            rest = rest[am.end():]
        if not rest.startswith("{"):
            errors.append((lineno, f"{macro}: expected a {{...}} body after the name"))
            continue
        got = _take_group(rest, 0)
        if got is None:
            errors.append((lineno, f"{macro}: body is not closed on this line (one definition per line)"))
            continue
        if rest[got[1]:].strip():
            errors.append((lineno, f"{macro}: unexpected text after the body: {rest[got[1]:].strip()[:30]!r}"))
    if not seen and not errors:
        errors.append((1, "no \\newcommand definitions found"))
    return errors


def macro_definitions(text: str) -> list[tuple[str, int, int]]:
    """(\\Name, number of arguments, line) for each \\newcommand line of a macro file."""
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*\\(?:new|renew|provide)command\*?\s*\{\s*(\\[^{}\s]+)\s*\}\s*(?:\[\s*(\d)\s*\])?",
                     _strip_comment(raw))
        if m:
            out.append((m.group(1), int(m.group(2) or 0), lineno))
    return out


def undefined_macro_uses(text: str, defined: Iterable[str], name: str | None = None) -> list[str]:
    """Uses of a project macro (\\carpsX: same lowercase prefix as the defined ones) that none defines.

    Without TeX this is the only way to see a table referring to a macro the macro file lost.
    """
    defined = set(defined)
    prefixes = {re.match(r"[a-z]*", m[1:]).group(0) for m in defined}
    if len(prefixes) != 1 or len(next(iter(prefixes))) < 3:
        return []                                       # no shared prefix: cannot tell ours from LaTeX's
    prefix = prefixes.pop()
    errors = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        for m in re.finditer(r"\\(" + prefix + r"[A-Za-z]*)", _strip_comment(raw)):
            if "\\" + m.group(1) not in defined:
                errors.append((lineno, f"\\{m.group(1)} is not defined in the macro file(s)"))
    return _format(errors, name)


def looks_like_macros(text: str) -> bool:
    """A macro file: its first non-comment line is a \\newcommand (tables start with \\begin)."""
    for raw in text.splitlines():
        line = _strip_comment(raw).strip()
        if line:
            return bool(_DEF_START.match(line))
    return False


# --------------------------------------------------------------------------------------------------
# public API: syntax check

def syntax_check(text: str, kind: str = "table", name: str | None = None) -> list[str]:
    """Problems found in one fragment without TeX; an empty list means it looks fine.

    kind="table": a `table` environment or a bare `tabular`; kind="macros": a file of
    `\\newcommand{\\Name}{...}` lines.  Messages are `name:line: ...` (or `line N: ...`).
    """
    if kind not in ("table", "macros"):
        raise ValueError(f"kind must be 'table' or 'macros', not {kind!r}")
    errors = _Scanner(text, kind).run()
    if kind == "macros":
        errors += _check_macro_lines(text)
    # one message per (line, text): the line checks and the scanner may both see a broken brace
    unique = list(dict.fromkeys(errors))
    return _format(unique, name)


# --------------------------------------------------------------------------------------------------
# public API: compile

def find_engine() -> str | None:
    """Full path of the first TeX engine on PATH (pdflatex, lualatex, xelatex, tectonic), or None."""
    for name in ENGINES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class CompileResult:
    ok: bool
    engine: str | None
    errors: list[str] = field(default_factory=list)   # "file:line: ! message | l.<n> context"
    logs: list[Path] = field(default_factory=list)    # one .log per engine run
    runs: int = 0


_MARK = "@@latexcheck:"


def _engine_cmd(engine: str, doc: str) -> list[str]:
    base = Path(engine).name
    if base.startswith("tectonic"):
        return [engine, "--keep-logs", "--chatter", "minimal", doc]
    cmd = [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"]
    if base.startswith("xelatex"):
        cmd.append("-no-pdf")
    else:
        cmd.append("-draftmode")
    return cmd + [doc]


def _error_blocks(log_text: str) -> list[tuple[str | None, str, int | None]]:
    """(last marker before it, error text, l.<n> line) for each `!` error in a TeX log."""
    lines = log_text.splitlines()
    marker, out, k = None, [], 0
    while k < len(lines):
        line = lines[k]
        if line.startswith(_MARK):
            marker = line[len(_MARK):].strip()
        elif line.startswith("!"):
            msg, where, ctx = [line[1:].strip()], None, []
            j = k + 1
            while j < len(lines) and j < k + 12 and not lines[j].startswith(("!", _MARK)):
                lm = re.match(r"l\.(\d+) ?(.*)", lines[j])
                if lm:
                    where = int(lm.group(1))
                    ctx.append(f"l.{lm.group(1)} {lm.group(2)}".rstrip())
                    if j + 1 < len(lines) and lines[j + 1].strip():
                        ctx.append(lines[j + 1].strip())
                    j += 1
                    break
                if lines[j].strip() and not ctx and not lines[j].startswith(("See the", "Type ", "You're")):
                    msg.append(lines[j].strip())
                j += 1
            text = " ".join(m if len(m) <= 160 else m[:157] + "..." for m in msg[:3])
            if ctx:
                text += "  [" + " ".join(ctx) + "]"
            out.append((marker, text, where))
            k = j
            continue
        k += 1
    return out


def compile_fragments(paths: Sequence[str | os.PathLike], workdir: str | os.PathLike, *,
                      engine: str | None = None, timeout: float = 60.0,
                      packages: Sequence[str] = DEFAULT_PACKAGES) -> CompileResult:
    """Compile the fragments inside a minimal article; ok only if the engine finishes cleanly.

    Macro files (detected by content) are \\input first and each macro they define is used once,
    so a bad body or an undefined command inside it fails.  Each table is \\input after a \\typeout
    marker, so an error in the log is attributed to its file; after a failure the remaining items
    are compiled again (a failing macro *file* stops the run: every table depends on it).
    """
    engine = engine or find_engine()
    if engine is None:
        return CompileResult(False, None, [f"no TeX engine on PATH (looked for {', '.join(ENGINES)})"])
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    macros: list[tuple[str, Path]] = []        # (stem in workdir, original)
    tables: list[tuple[str, Path]] = []
    uses: list[tuple[str, str, int]] = []      # (TeX to use the macro, original file, line)
    for k, p in enumerate(map(Path, paths)):
        text = p.read_text(encoding="utf-8")
        if looks_like_macros(text):
            stem = f"lc-macros-{k}"
            macros.append((stem, p))
            for mname, nargs, line in macro_definitions(text):
                uses.append((mname + "{x}" * nargs, str(p), line))
        else:
            stem = f"lc-table-{k}"
            tables.append((stem, p))
        (work / f"{stem}.tex").write_text(text, encoding="utf-8")

    # items after the macro inputs, in order; each is ("use", i) or ("table", i)
    items = [("use", i) for i in range(len(uses))] + [("table", i) for i in range(len(tables))]
    result = CompileResult(True, engine)
    env = {**os.environ, "max_print_line": "10000", "error_line": "254", "half_error_line": "238"}
    start = 0
    while True:
        doc_lines = ["\\documentclass{article}", *(f"\\usepackage{{{p}}}" for p in packages),
                     "\\nofiles", "\\begin{document}"]
        for m, (stem, _) in enumerate(macros):
            doc_lines += [f"\\typeout{{{_MARK}M{m}}}", f"\\input{{{stem}}}"]
        use_at: dict[int, int] = {}                     # doc line -> index into uses
        for kind, idx in items[start:]:
            if kind == "use":
                doc_lines.append(f"\\typeout{{{_MARK}U{idx}}}")
                doc_lines.append(f"\\noindent{uses[idx][0]}\\par")
                use_at[len(doc_lines)] = idx
            else:
                stem = tables[idx][0]
                doc_lines += [f"\\typeout{{{_MARK}T{idx}}}", f"\\input{{{stem}}}",
                              f"\\typeout{{{_MARK}E{idx}}}", "\\clearpage"]
        doc_lines += [f"\\typeout{{{_MARK}END}}", "\\end{document}", ""]
        doc = f"lc-doc-{result.runs}"
        for stale in (".aux", ".log"):                  # a reused workdir must not feed an old .aux back in
            (work / f"{doc}{stale}").unlink(missing_ok=True)
        (work / f"{doc}.tex").write_text("\n".join(doc_lines), encoding="utf-8")
        result.runs += 1
        try:
            proc = subprocess.run(_engine_cmd(engine, f"{doc}.tex"), check=False, cwd=work, env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            result.ok = False
            result.errors.append(f"{Path(engine).name} timed out after {timeout:g}s (files: "
                                 f"{', '.join(str(p) for _, p in macros + tables)})")
            return result
        log_path = work / f"{doc}.log"
        result.logs.append(log_path)
        if proc.returncode == 0:
            return result
        result.ok = False
        log_text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        blocks = _error_blocks(log_text)
        if not blocks:
            tail = proc.stdout.decode("utf-8", "replace").strip().splitlines()[-5:]
            result.errors.append(f"{Path(engine).name} failed (exit {proc.returncode}) without a '!' error "
                                 "in the log: " + " | ".join(tail))
            return result
        marker, msg, where = blocks[0]
        kind, idx = (marker[0], int(marker[1:])) if marker and marker != "END" else (marker, -1)
        if kind == "M":
            result.errors.append(f"{macros[idx][1]}:{where or '?'}: ! {msg}")
            result.errors.append(f"{macros[idx][1]}: stopped here: the tables were not compiled because "
                                 "the macro file fails")
            return result
        if kind == "U":
            use_idx = use_at.get(where, idx) if where else idx
            tex, src, line = uses[use_idx]
            result.errors.append(f"{src}:{line}: ! {msg} (while using {tex})")
            failed = ("use", use_idx)
        elif kind == "T":
            result.errors.append(f"{tables[idx][1]}:{where or '?'}: ! {msg}")
            failed = ("table", idx)
        elif kind == "E":
            result.errors.append(f"{tables[idx][1]}: ! {msg} (raised after the end of this file: "
                                 "something it opened is never closed)")
            failed = ("table", idx)
        else:
            result.errors.append(f"(wrapper document {work / doc}.tex):{where or '?'}: ! {msg}")
            return result
        start = items.index(failed) + 1
        if start >= len(items):
            return result


# --------------------------------------------------------------------------------------------------
# public API: files

_AUTO = "auto"


def check_files(paths: Sequence[str | os.PathLike], *, engine: str | None = _AUTO,
                timeout: float = 60.0, packages: Sequence[str] = DEFAULT_PACKAGES) -> list[str]:
    """All problems in these fragments (empty = fine): syntax check always, compile too with an engine.

    engine: "auto" (default) uses `find_engine()`; None forces the syntax check only; or a path.
    The engine used, or its absence, is logged at INFO level on this module's logger.
    """
    problems: list[str] = []
    readable, tables, defined = [], [], []
    for p in map(Path, paths):
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{p}: cannot read: {exc}")
            continue
        readable.append(p)
        is_macros = looks_like_macros(text)
        problems += syntax_check(text, "macros" if is_macros else "table", name=str(p))
        if is_macros:
            defined += [m for m, _, _ in macro_definitions(text)]
        else:
            tables.append((p, text))
    if defined:
        for p, text in tables:
            problems += undefined_macro_uses(text, defined, name=str(p))
    eng = find_engine() if engine == _AUTO else engine
    if eng is None:
        if engine == _AUTO:
            log.info("no TeX engine on PATH (looked for %s): syntax check only", ", ".join(ENGINES))
        else:
            log.info("compiling switched off: syntax check only")
        return problems
    if not readable:
        return problems
    log.info("compiling %d fragment(s) with %s", len(readable), eng)
    with tempfile.TemporaryDirectory(prefix="latex-check-") as work:
        res = compile_fragments(readable, work, engine=eng, timeout=timeout, packages=packages)
    name = Path(eng).name
    problems += [f"{e} [{name}]" for e in res.errors]
    log.info("%s: %s (%d run(s))", name, "ok" if res.ok else "failed", res.runs)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help=".tex fragments (tables and the macro file)")
    ap.add_argument("--no-compile", action="store_true", help="syntax check only, even if TeX is installed")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per engine run")
    ap.add_argument("--package", action="append", default=[], metavar="NAME",
                    help=f"extra package for the wrapper document (always: {', '.join(DEFAULT_PACKAGES)})")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="latex_check: %(message)s", stream=sys.stderr)
    problems = check_files(args.files, engine=None if args.no_compile else _AUTO, timeout=args.timeout,
                           packages=[*DEFAULT_PACKAGES, *args.package])
    for p in problems:
        print(p)
    print(f"latex_check: {len(args.files)} file(s), {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
