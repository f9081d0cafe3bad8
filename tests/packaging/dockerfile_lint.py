#!/usr/bin/python3
"""A small Dockerfile checker for packaging/docker/Dockerfile, in place of hadolint (not in
Debian). No Docker engine runs on the test machines, so the image is never built here;
this parses the file the way the builder would and checks what the image promises:

- every line is a known instruction (after continuations, comments, parser directives);
  JSON-form arguments (CMD, ENTRYPOINT, VOLUME...) are valid JSON arrays of strings;
- every FROM is Debian bookworm (debian:bookworm or bookworm-slim, optionally pinned by
  digest) or an earlier stage; stage names are unique;
- COPY --from names an earlier stage; COPY sources without --from exist in the build
  context (the repository root) and are not excluded by the .dockerignore;
- the final stage runs as a non-root USER (not root, not uid 0) and has an ENTRYPOINT or
  CMD; apt-get install uses --no-install-recommends and the lists are removed.

    dockerfile_lint.py [--self-test] DOCKERFILE --context DIR
--self-test first checks that the checker rejects a set of broken Dockerfiles.
"""
import argparse
import fnmatch
import json
import os
import re
import shlex
import sys

INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK",
                "SHELL"}
JSON_FORM = {"CMD", "ENTRYPOINT", "RUN", "SHELL", "VOLUME", "COPY", "ADD"}
BASE_IMAGE = re.compile(r"^(docker\.io/)?(library/)?debian:bookworm(-slim)?(-\d{8})?(@sha256:[0-9a-f]{64})?$")


def instructions(text):
    """Yields (line number, INSTRUCTION, arguments) with continuations joined."""
    lines = text.splitlines()
    escape = "\\"
    i = 0
    # Parser directives: only at the very top, before any comment or instruction.
    while i < len(lines):
        m = re.match(r"^#\s*(\w+)\s*=\s*(\S+)\s*$", lines[i])
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
        i += 1
    while i < len(lines):
        start = i
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [line]
        while parts[-1].rstrip().endswith(escape):
            parts[-1] = parts[-1].rstrip()[:-1]
            # Comment lines inside a continued instruction are dropped, as the builder does.
            while i < len(lines) and lines[i].lstrip().startswith("#"):
                i += 1
            if i >= len(lines):
                break
            parts.append(lines[i])
            i += 1
        joined = " ".join(p.strip() for p in parts)
        word, _, args = joined.partition(" ")
        yield start + 1, word, args.strip()


def dockerignore_patterns(dockerfile, context):
    for candidate in (dockerfile + ".dockerignore", os.path.join(context, ".dockerignore")):
        if os.path.exists(candidate):
            with open(candidate) as f:
                return [l.strip().rstrip("/") for l in f
                        if l.strip() and not l.startswith("#")]
    return []


def ignored(path, patterns):
    path = path.strip("/").removeprefix("./")
    for p in patterns:
        p = p.removeprefix("**/")
        if fnmatch.fnmatch(path, p) or path.startswith(p + "/") or path.split("/")[0] == p:
            return True
    return False


def check(text, context=None, dockerfile="Dockerfile"):
    """Returns the list of problems found (empty: the file passes)."""
    errors = []
    stages = []  # [{"name", "user", "has_cmd", "line"}]
    patterns = dockerignore_patterns(dockerfile, context) if context else []
    seen_any = False
    for lineno, word, args in instructions(text):
        where = f"line {lineno}"
        if word != word.upper() or word.upper() not in INSTRUCTIONS:
            errors.append(f"{where}: unknown instruction {word!r}")
            continue
        if word != "ARG" and not seen_any and word != "FROM":
            errors.append(f"{where}: {word} before the first FROM")
        if word == "FROM":
            seen_any = True
            tokens = [t for t in args.split() if not t.startswith("--platform=")]
            if len(tokens) not in (1, 3) or (len(tokens) == 3 and tokens[1].upper() != "AS"):
                errors.append(f"{where}: FROM wants IMAGE [AS NAME], got {args!r}")
                continue
            image = tokens[0]
            name = tokens[2] if len(tokens) == 3 else None
            earlier = {s["name"] for s in stages if s["name"]}
            if image not in earlier and not BASE_IMAGE.match(image):
                errors.append(f"{where}: base image {image!r} is not Debian bookworm "
                              "(debian:bookworm or debian:bookworm-slim) nor an earlier stage")
            if name is not None:
                if not re.match(r"^[a-z][a-z0-9_.-]*$", name):
                    errors.append(f"{where}: stage name {name!r} is not lower-case [a-z0-9_.-]")
                if name in earlier:
                    errors.append(f"{where}: stage name {name!r} used twice")
            stages.append({"name": name, "user": None, "has_cmd": False, "line": lineno})
            continue
        if not stages:
            continue  # ARG before FROM
        stage = stages[-1]
        if word in JSON_FORM and args.startswith("["):
            try:
                value = json.loads(args)
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError
            except ValueError:
                errors.append(f"{where}: {word} argument looks like JSON but is not an array "
                              f"of strings: {args}")
        if word in ("CMD", "ENTRYPOINT"):
            stage["has_cmd"] = True
        elif word == "USER":
            if not args:
                errors.append(f"{where}: USER without a user")
            stage["user"] = args.split(":")[0]
        elif word == "RUN" and "apt-get install" in args:
            if "--no-install-recommends" not in args:
                errors.append(f"{where}: apt-get install without --no-install-recommends")
            if "rm -rf /var/lib/apt/lists" not in args:
                errors.append(f"{where}: apt-get install without removing /var/lib/apt/lists")
        elif word in ("COPY", "ADD"):
            try:
                tokens = shlex.split(args) if not args.startswith("[") else json.loads(args)
            except ValueError as e:
                errors.append(f"{where}: {word} arguments do not parse: {e}")
                continue
            flags = [t for t in tokens if t.startswith("--")]
            paths = [t for t in tokens if not t.startswith("--")]
            if len(paths) < 2:
                errors.append(f"{where}: {word} needs a source and a destination")
                continue
            source_stage = None
            for f in flags:
                if f.startswith("--from="):
                    source_stage = f[len("--from="):]
            if source_stage is not None:
                names = [s["name"] for s in stages[:-1]]
                if source_stage not in names and not (source_stage.isdigit()
                                                      and int(source_stage) < len(stages) - 1):
                    errors.append(f"{where}: COPY --from={source_stage} names no earlier stage")
            elif context:
                for src in paths[:-1]:
                    if any(c in src for c in "*?["):
                        continue
                    if not os.path.exists(os.path.join(context, src)):
                        errors.append(f"{where}: {src} does not exist in the build context")
                    elif ignored(src, patterns):
                        errors.append(f"{where}: {src} is excluded by the .dockerignore")
    if not stages:
        errors.append("no FROM: not a Dockerfile")
        return errors
    final = stages[-1]
    if final["user"] is None:
        errors.append("the final stage has no USER: the image would run as root")
    elif final["user"] in ("root", "0"):
        errors.append(f"the final stage runs as {final['user']}")
    if not final["has_cmd"]:
        errors.append("the final stage has neither ENTRYPOINT nor CMD")
    return errors


# Broken Dockerfiles the checker must reject, each with a word its message must hold.
BAD = [
    ("FROM ubuntu:22.04\nUSER 1000\nCMD [\"x\"]\n", "bookworm"),
    ("FROM debian:bookworm\nCMD [\"x\"]\n", "no USER"),
    ("FROM debian:bookworm\nUSER root\nCMD [\"x\"]\n", "runs as root"),
    ("FROM debian:bookworm AS a\nFROM debian:bookworm-slim\nCOPY --from=b /x /x\nUSER 1\nCMD [\"x\"]\n", "no earlier stage"),
    ("FROM debian:bookworm AS a\nFROM debian:bookworm AS a\nUSER 1\nCMD [\"x\"]\n", "used twice"),
    ("FROM debian:bookworm\nUSER 1\nCOPPY a b\nCMD [\"x\"]\n", "unknown instruction"),
    ("FROM debian:bookworm\nUSER 1\nCMD [\"x\", 1]\n", "JSON"),
    ("FROM debian:bookworm\nRUN apt-get update \\\n && apt-get install -y curl\nUSER 1\nCMD [\"x\"]\n", "no-install-recommends"),
    ("FROM debian:bookworm\nUSER 1\n", "neither ENTRYPOINT nor CMD"),
    ("RUN true\nFROM debian:bookworm\nUSER 1\nCMD [\"x\"]\n", "before the first FROM"),
]
GOOD = ("# syntax=docker/dockerfile:1\nARG X=1\nFROM debian:bookworm AS build\n"
        "RUN apt-get update \\\n    # a comment in a continuation\n"
        " && apt-get install -y --no-install-recommends g++ \\\n && rm -rf /var/lib/apt/lists/*\n"
        "FROM debian:bookworm-slim\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\n"
        "USER 10001:10001\nENTRYPOINT [\"/usr/bin/x\"]\n")


def self_test():
    ok = True
    for text, word in BAD:
        errors = check(text)
        if not any(word in e for e in errors):
            print(f"self-test: expected an error about {word!r} for:\n{text}got {errors}")
            ok = False
    if errors := check(GOOD):
        print(f"self-test: a valid Dockerfile was rejected: {errors}")
        ok = False
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dockerfile")
    ap.add_argument("--context", help="the build context (default: no source checks)")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test and not self_test():
        return 1
    with open(args.dockerfile) as f:
        errors = check(f.read(), args.context, args.dockerfile)
    for e in errors:
        print(f"{args.dockerfile}: {e}")
    if errors:
        return 1
    print(f"{args.dockerfile}: ok (parsed and checked; no Docker engine here to build it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
