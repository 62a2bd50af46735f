#!/usr/bin/env python3
"""Runs every command the docs show and compares the figures they print.

Usage: check-docs.py [--fix] ULTRASIM_BINARY FILE.md [FILE.md ...]

--fix rewrites each doc line whose figures differ with the line the tool prints
(for a developer who changed the model on purpose; read the diff before committing:
the prose around an example may quote the same figures).

What counts as a command, in a Markdown file:
  - a line in a code block (indented four spaces or fenced) that begins with "$ ":
    it runs under sh (continuation lines ending in "\\" and here-documents are
    part of it), and whatever the doc shows after it is its expected output: the
    block's following lines up to the next "$ " line, and the fenced blocks that
    come straight after (only blank lines between);
  - a line in a code block that begins with "ultrasim ", "build/ultrasim " or "mpirun ":
    it runs and must exit 0; its output is not compared. A synopsis line (one
    with "...", "[", "|" or an upper-case placeholder such as NAME) is not run;
    each --option it shows must be one that the command's --help lists.

Expected output is compared line by line, whitespace collapsed, in order; the tool
may print lines the doc leaves out, and a doc line "..." says so. A doc line that
ends in " ..." shows only the start of the printed line (for what differs between
machines: a run time, a thread count). A doc line
whose shape (its text with the numbers taken out) matches a printed line but
whose numbers differ is reported with both, so a drifted figure names itself.

Each file's commands run in order in one scratch folder (so a file written by one
command can be read by the next) where docs/, data/, validation/, python/ and tests/ of
the repository are visible, with "ultrasim" on PATH and ULTRASIM_LIB naming the
build's library (for `import ultrasim`). Exit status: 0 when every
command ran and matched, 1 otherwise.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

PLACEHOLDER = re.compile(r"\.\.\.|\[|\||(?<![\w-])[A-Z][A-Z_]*[A-Z](?![\w])|(?<=\s)[A-Z](?=\s|$)")
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
HEREDOC = re.compile(r"<<-?\s*'?\"?(\w+)'?\"?")
TIMEOUT_S = 300


class Command:
    def __init__(self, path, line, text, compare, synopsis=False):
        self.path, self.line, self.text, self.compare = path, line, text, compare
        self.synopsis = synopsis
        self.expected = []  # (line number, text)


def classify(lines):
    """Yields (index, text, kind) per line; kind: fence, fenced, indented or prose."""
    fenced = False
    previous_blank = True
    indented = False
    for i, raw in enumerate(lines):
        if raw.lstrip().startswith("```"):
            fenced = not fenced
            yield i, None, "fence"
        elif fenced:
            yield i, raw, "fenced"
        elif raw.startswith("    ") and (previous_blank or indented):
            indented = True
            yield i, raw[4:], "indented"
        else:
            if raw.strip():
                indented = False
            yield i, raw, "prose"
        previous_blank = not raw.strip()


def parse(path):
    """The commands of one Markdown file, each with the output the doc shows."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    commands = []
    current = None  # the "$ " command (group) that collects the output shown after it
    skip_until = -1
    for i, text, kind in classify(lines):
        if i <= skip_until or kind == "fence":
            continue
        stripped = text.strip()
        if kind == "prose":
            if stripped:  # prose ends what a command shows
                current = None
            continue
        if stripped.startswith("$ "):
            body, skip_until = gather(lines, i, stripped[2:])
            if current is not None and not current.expected:
                current.text += "\n" + body  # consecutive commands share their output
            else:
                current = Command(path, i + 1, body, True)
                commands.append(current)
            continue
        if re.match(r"((build/)?ultrasim|mpirun) ", stripped):
            body, skip_until = gather(lines, i, stripped)
            synopsis = bool(PLACEHOLDER.search(body.split("#")[0]))
            commands.append(Command(path, i + 1, body, False, synopsis))
            current = None
            continue
        if current is not None:
            current.expected.append((i + 1, stripped))
    return commands


def gather(lines, i, first):
    """The whole command starting at line i: continuations and here-documents."""
    body = [first]
    j = i
    while body[-1].endswith("\\") and j + 1 < len(lines):
        j += 1
        body.append(lines[j].strip())
    heredoc = HEREDOC.search(" ".join(body))
    if heredoc:
        end = heredoc.group(1)
        while j + 1 < len(lines):
            j += 1
            body.append(lines[j][4:] if lines[j].startswith("    ") else lines[j])
            if lines[j].strip() == end:
                break
    return "\n".join(body), j


def collapse(text):
    return " ".join(text.split())


def matches(printed, want):
    """A doc line ending in " ..." shows only the start of the printed line (the rest,
    a time or a thread count, differs from machine to machine)."""
    if want.endswith(" ..."):
        return printed.startswith(want[:-4])
    return printed == want


def shape(text):
    return NUMBER.sub("#", collapse(text))


class Problem(str):
    """A message; for a drifted figure, also (file, line, the line the tool prints)."""

    def __new__(cls, message, fix=None):
        obj = super().__new__(cls, message)
        obj.fix = fix
        return obj


def apply_fixes(problems):
    """Rewrites drifted doc lines, keeping each line's indentation."""
    by_file = {}
    for p in problems:
        if getattr(p, "fix", None):
            by_file.setdefault(p.fix[0], []).append(p.fix[1:])
    for path, fixes in by_file.items():
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for line, printed in fixes:
            old = lines[line - 1]
            lead = len(old) - len(old.lstrip()) - (len(printed) - len(printed.lstrip()))
            lines[line - 1] = " " * max(lead, 0) + printed.rstrip()
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
    return sum(len(f) for f in by_file.values())


def compare(cmd, printed):
    """Problems with the expected lines, in order against what was printed."""
    raw = [l for l in printed.split("\n") if l.strip()]
    actual = [collapse(l) for l in raw]
    problems = []
    pos = 0
    for line, want in cmd.expected:
        want = collapse(want)
        if not want or want == "...":
            continue
        found = next((k for k in range(pos, len(actual)) if matches(actual[k], want)), None)
        if found is not None:
            pos = found + 1
            continue
        near = next((k for k in range(pos, len(actual)) if shape(actual[k]) == shape(want)), None)
        if near is not None:
            problems.append(Problem(f"{cmd.path}:{line}: figures differ\n    doc:  {want}\n"
                                    f"    tool: {actual[near]}", (cmd.path, line, raw[near])))
            pos = near + 1
        else:
            problems.append(Problem(f"{cmd.path}:{line}: the tool no longer prints\n"
                                    f"    doc:  {want}"))
    return problems


def scratch_folder(repo, binary):
    work = tempfile.mkdtemp(prefix="usim-docs-")
    for name in ("docs", "data", "validation", "python", "tests"):
        os.symlink(os.path.join(repo, name), os.path.join(work, name))
    bindir = os.path.join(work, ".bin")
    os.mkdir(bindir)
    os.symlink(os.path.abspath(binary), os.path.join(bindir, "ultrasim"))
    os.makedirs(os.path.join(work, "build"))
    os.symlink(os.path.abspath(binary), os.path.join(work, "build", "ultrasim"))
    return work, bindir


def check_synopsis(cmd, binary):
    """Problems with the options a synopsis shows: each must be in its command's --help."""
    problems = []
    for part in re.split(r"&&|;", cmd.text):
        words = part.replace("build/ultrasim", "ultrasim").split()
        if len(words) < 2 or words[0] != "ultrasim":
            continue
        name = words[1:3] if words[1] == "hw" else words[1:2]
        done = subprocess.run([binary] + name + ["--help"], capture_output=True, text=True)
        if done.returncode != 0:
            problems.append(f"{cmd.path}:{cmd.line}: 'ultrasim {' '.join(name)} --help' fails")
            continue
        shown = set(re.findall(r"--[a-z][a-z0-9-]*", part))
        listed = set(re.findall(r"--[a-z][a-z0-9-]*", done.stdout))
        problems += [f"{cmd.path}:{cmd.line}: shows {flag}, which 'ultrasim {' '.join(name)}' "
                     f"does not take" for flag in sorted(shown - listed)]
    return problems


def run_file(path, binary, repo):
    commands = parse(path)
    work, bindir = scratch_folder(repo, binary)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
               LC_ALL="C", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONDONTWRITEBYTECODE="1")
    library = os.path.join(os.path.dirname(os.path.abspath(binary)), "libultrasim.so")
    if os.path.exists(library):  # what `import ultrasim` loads: the build's own
        env["ULTRASIM_LIB"] = library
    problems = []
    try:
        for cmd in commands:
            if cmd.synopsis:
                problems += check_synopsis(cmd, binary)
                continue
            try:
                done = subprocess.run(["sh", "-c", cmd.text], cwd=work, env=env,
                                      capture_output=True, text=True, timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                problems.append(f"{cmd.path}:{cmd.line}: took over {TIMEOUT_S} s: {cmd.text}")
                continue
            if done.returncode != 0:
                problems.append(f"{cmd.path}:{cmd.line}: exit {done.returncode}: {cmd.text}\n"
                                f"    {done.stderr.strip()[:400]}")
                continue
            if cmd.compare:
                problems += compare(cmd, done.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return commands, problems


def main(argv):
    fix = len(argv) > 1 and argv[1] == "--fix"
    if fix:
        argv = argv[:1] + argv[2:]
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    binary = argv[1]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    total, compared, synopses, problems = 0, 0, 0, []
    for path in argv[2:]:
        commands, found = run_file(path, binary, repo)
        synopses += sum(1 for c in commands if c.synopsis)
        total += len(commands) - sum(1 for c in commands if c.synopsis)
        compared += sum(1 for c in commands if c.compare and c.expected)
        problems += found
    for p in problems:
        print(p)
    if fix:
        print(f"docs: rewrote {apply_fixes(problems)} drifted lines")
    print(f"docs: {total} commands run, {compared} with their output compared, "
          f"{synopses} usage lines checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
