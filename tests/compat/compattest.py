"""What the sim.esim tests share: running a script that uses the module as an application would
(a separate process, `from sim import esim`, the world's bus as its system bus) and checking what
an example may import."""

import ast
import os
import subprocess
import textwrap

import sim  # from client/python, which tests/compat/meson.build puts on PYTHONPATH

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "examples")
APPS = os.path.join(HERE, "apps")
MODULE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(sim.__file__)))

# What the module API's examples may import: the module itself and what QuecPython also has.
ALLOWED_IMPORTS = {"sim.esim", "queue", "sys"}


def app_env(bus_address: str, extra: dict = None) -> dict:
    """The environment of an application: only the module on PYTHONPATH, nothing of the tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ESIM_EUICC")}
    env.update({"DBUS_SYSTEM_BUS_ADDRESS": bus_address, "PYTHONPATH": MODULE_DIR,
                "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def run(args: list, bus_address: str, lines=(), timeout: float = 180.0, env: dict = None):
    """Runs /usr/bin/python3 ARGS with LINES on its standard input; CompletedProcess (text)."""
    stdin = "".join(f"{line}\n" for line in lines)
    return subprocess.run(["/usr/bin/python3"] + list(args), input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=app_env(bus_address, env))


def run_example(name: str, bus_address: str, lines=(), **kw):
    return run([os.path.join(EXAMPLES, name)], bus_address, lines, **kw)


def run_code(code: str, bus_address: str, args=(), lines=(), **kw):
    """Runs CODE (dedented) as an application's main script, with ARGS as its sys.argv[1:]."""
    return run(["-c", textwrap.dedent(code)] + list(args), bus_address, lines, **kw)


def printed(output: str, label: str, literal: bool = True):
    """The value printed as 'LABEL:VALUE' (the examples' style), read back as a Python literal
    unless LITERAL is false; the last such line wins."""
    value = None
    for line in output.splitlines():
        if line.startswith(label + ":"):
            text = line[len(label) + 1:]
            value = ast.literal_eval(text) if literal else text
    if value is None:
        raise AssertionError(f"no '{label}:' line in:\n{output}")
    return value


def imports_of(path: str) -> set:
    """Every module a script imports, 'from A import B' counted as 'A.B'."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(f"{node.module}.{alias.name}" if node.module == "sim" else node.module
                         for alias in node.names)
    return names


def describe(proc) -> str:
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
