"""Check the LaTeX fragments `make tables` writes: compile them with pdflatex, plus a small structural check.

    python -m analysis.latex_check tables/*.tex

`compile_problems(paths)` compiles each table fragment in a minimal article (booktabs + the macro
file, if one is given) and the macro file on its own with every macro used once; TeX's errors come
back as ``file:line: message``. `structure_problems(text)` needs no TeX: balanced braces, matching
\\begin/\\end, and as many cells per tabular row as the column spec has columns (one row per line,
as our writer puts them). `check_files(paths)` runs both (the compile only when pdflatex is on PATH).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_TOKEN = re.compile(r"\\(begin|end)\{([^{}]*)\}|\\[A-Za-z@]+|\\.|[{}&%]")
_TEX_ERROR = re.compile(r"^\./(f|doc)(\d+)\.tex:(\d+): (.*)")


def structure_problems(text: str, name: str = "") -> list[str]:
    """Unbalanced braces, mismatched environments, rows with the wrong number of cells."""
    problems, braces, envs, ncols = [], [], [], None
    for lineno, line in enumerate(text.splitlines(), 1):
        cells, row = 1, False
        for m in _TOKEN.finditer(line):
            tok = m.group(0)
            if tok == "%":
                break
            if tok == "{":
                braces.append(lineno)
            elif tok == "}":
                if braces:
                    braces.pop()
                else:
                    problems.append((lineno, "unmatched '}'"))
            elif tok == "&":
                cells += 1
            elif tok == "\\\\":
                row = True
            elif tok == "\\multicolumn":
                span = re.match(r"\{(\d+)\}", line[m.end():])
                cells += int(span.group(1)) - 1 if span else 0
            elif m.group(1) == "begin":
                envs.append((m.group(2), lineno))
                if m.group(2) == "tabular":
                    spec = re.match(r"\{((?:[^{}]|\{[^{}]*\})*)\}", line[m.end():])
                    ncols = len(re.findall(r"[lcrpmbX]", re.sub(r"\{[^{}]*\}", "", spec.group(1)))) if spec else None
            elif m.group(1) == "end":
                if not envs or envs[-1][0] != m.group(2):
                    opened = f"\\begin{{{envs[-1][0]}}} on line {envs[-1][1]}" if envs else "no \\begin"
                    problems.append((lineno, f"\\end{{{m.group(2)}}} does not match {opened}"))
                else:
                    envs.pop()
                if m.group(2) == "tabular":
                    ncols = None
        if row and ncols is not None and cells != ncols:
            problems.append((lineno, f"row has {cells} cells, the column spec has {ncols}"))
    problems += [(line, "'{' is never closed") for line in braces]
    problems += [(line, f"\\begin{{{env}}} is never closed") for env, line in envs]
    return [f"{name}:{line}: {what}" if name else f"line {line}: {what}" for line, what in problems]


def _pdflatex(body: list[str], work: Path, files: dict[str, Path], timeout: float) -> list[str]:
    """Run pdflatex on a minimal article around `body` in `work`; its errors, named after the original files."""
    doc = ["\\documentclass{article}", "\\usepackage{booktabs}", "\\begin{document}", *body, "\\end{document}"]
    (work / "doc0.tex").write_text("\n".join(doc) + "\n", encoding="utf-8")
    cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-draftmode", "doc0.tex"]
    try:
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, errors="replace", timeout=timeout,
                              env={**os.environ, "max_print_line": "10000"}, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return [f"{', '.join(map(str, files.values()))}: pdflatex timed out after {timeout:g}s"]
    if proc.returncode == 0:
        return []
    lines, out, last = proc.stdout.splitlines(), [], list(files.values())[-1]
    for k, line in enumerate(lines):
        m = _TEX_ERROR.match(line)
        if not m or m.group(4).startswith(" ==> Fatal error"):  # -halt-on-error's closing line
            continue
        context = next((c.strip() for c in lines[k + 1:k + 6] if c.startswith("l.")), "")
        if m.group(1) == "f":
            out.append(f"{files[m.group(2)]}:{m.group(3)}: {m.group(4)}" + (f"  [{context}]" if context else ""))
        else:  # raised in the wrapper, after the inputs: a macro being used, or something left open
            use = body[int(m.group(3)) - 4] if 4 <= int(m.group(3)) < 4 + len(body) else ""
            macro = use.removeprefix("\\noindent").removesuffix("\\par") if use.startswith("\\noindent") else ""
            defs = last.read_text(encoding="utf-8").splitlines()
            at = next((f":{n}" for n, d in enumerate(defs, 1) if macro and "{" + macro + "}" in d), "")
            why = f"(using {macro})" if macro else "(after the end of the file: something it opened is not closed)"
            out.append(f"{last}{at}: {m.group(4)} {why}")
    return out or [f"{last}: pdflatex failed (exit {proc.returncode}): " + " | ".join(lines[-4:])]


def compile_problems(paths: list[str | Path], timeout: float = 60.0) -> list[str]:
    """Compile each file with pdflatex (tables with the macro file \\input first, the macro file with each
    macro used once); empty = all compile."""
    paths = [Path(p) for p in paths]
    texts = {p: p.read_text(encoding="utf-8") for p in paths}
    macros = [p for p in paths if re.match(r"(%.*\n)*\\newcommand", texts[p])]
    problems = []
    for p in paths:
        with tempfile.TemporaryDirectory(prefix="carps-tex-") as tmp:
            files = {str(k): q for k, q in enumerate([*[m for m in macros if m != p], p])}
            for k, q in files.items():
                shutil.copyfile(q, Path(tmp) / f"f{k}.tex")
            uses = re.findall(r"\\newcommand\{(\\[A-Za-z]+)\}", texts[p]) if p in macros else []
            body = [f"\\input{{f{k}}}" for k in files] + [f"\\noindent{u}\\par" for u in uses]
            problems += _pdflatex(body, Path(tmp), files, timeout)
    return list(dict.fromkeys(problems))


def check_files(paths: list[str | Path]) -> list[str]:
    """The structural check of every file, and the pdflatex compile when pdflatex is on PATH."""
    problems = [e for p in paths for e in structure_problems(Path(p).read_text(encoding="utf-8"), str(p))]
    return problems + (compile_problems(paths) if shutil.which("pdflatex") else [])


if __name__ == "__main__":
    found = check_files(sys.argv[1:])
    print("\n".join(found) or f"ok ({'compiled' if shutil.which('pdflatex') else 'structure only: no pdflatex'})")
    sys.exit(1 if found else 0)
