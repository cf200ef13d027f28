#!/usr/bin/python3
"""The bash and zsh completions of esimctl, run in the real shells: they offer esimctl's own
commands and each command's own options (as its --help lists them, so a new option cannot be
forgotten), the values of options, and the ICCIDs and jobs esimctl lists from a running esimd."""

import os
import re
import shutil
import subprocess
import unittest

from esimtest import world as worldmod
from esimtest.world import World, activation_code

SOURCE = os.environ["ESIMD_SOURCE_ROOT"]
COMPLETION = os.path.join(SOURCE, "client", "completion")
ZSH_CAPTURE = os.path.join(SOURCE, "tests", "integration", "zsh-complete.zsh")
ESIMCTL_DIR = os.path.dirname(worldmod.ESIMCTL)
ICCID = "8949449999999990011"


def help_text(*args) -> str:
    return subprocess.run([worldmod.ESIMCTL, *args, "--help"], capture_output=True, text=True).stdout


def commands() -> set:
    text = help_text().split("Commands:", 1)[1].split("\n\n", 1)[0]
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def long_options(text: str) -> set:
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z-]+)", text, re.M))


def bash_complete(line: str, env=None) -> set:
    words = line.split(" ")
    script = (f"source {COMPLETION}/esimctl.bash\n"
              f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
              f"COMP_CWORD={len(words) - 1}\n"
              "_esimctl\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return {w for w in out.stdout.split("\n") if w}


def zsh_complete_all(lines, env=None) -> list:
    """What zsh offers after each of @lines, from one interactive zsh."""
    out = subprocess.run(["zsh", "-f", ZSH_CAPTURE, COMPLETION, *lines], capture_output=True, text=True,
                         env=env, timeout=600)
    parts = out.stdout.split("@@end@@")[:-1]
    assert len(parts) == len(lines), out.stdout[-3000:] + out.stderr
    return [set(re.findall(r"<<(.*?)>>", part)) - {"$h"} for part in parts]


def zsh_complete(line: str, env=None) -> set:
    return zsh_complete_all([line], env)[0]


def setUpModule():
    if os.environ.get("ESIMD_TEST_VALGRIND") == "1":
        raise unittest.SkipTest("the shells' completion asks nothing new of esimd: not run under valgrind")


SUBCOMMANDS = {"notifications": ["list", "send", "remove"], "job": ["show", "wait", "confirm", "cancel"]}
GLOBAL = {"--euicc", "--json", "--timeout", "--no-ask-password", "--quiet", "--help"}


class Static(unittest.TestCase):
    """Without esimd: commands and options."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which("zsh"):
            raise unittest.SkipTest("zsh is not installed")

    def test_commands(self):
        expected = commands()
        self.assertGreater(len(expected), 15)
        self.assertEqual(bash_complete("esimctl "), expected)
        self.assertEqual(zsh_complete("esimctl "), expected)
        self.assertEqual(bash_complete("esimctl -q --euicc sim "), expected)
        self.assertEqual(zsh_complete("esimctl help "), expected)
        self.assertEqual(bash_complete("esimctl d"), {c for c in expected if c.startswith("d")})

    def test_global_options(self):
        expected = long_options(help_text())
        self.assertIn("--quiet", expected)
        for shell in (bash_complete, zsh_complete):
            with self.subTest(shell=shell.__name__):
                self.assertEqual({o for o in shell("esimctl --") if o.startswith("--")}, expected)

    def test_each_commands_options(self):
        cases = []
        for command in sorted(commands()):
            for sub in SUBCOMMANDS.get(command, [None]):
                words = [command] + ([sub] if sub else [])
                expected = long_options(help_text(*words))
                self.assertTrue(GLOBAL <= expected, words)
                cases.append((" ".join(words), expected))
        zsh = zsh_complete_all([f"esimctl {words} --" for words, _ in cases])
        for (words, expected), got_zsh in zip(cases, zsh):
            with self.subTest(command=words):
                got_bash = {o for o in bash_complete(f"esimctl {words} --") if o.startswith("--")}
                self.assertEqual(got_bash, expected, "bash")
                self.assertEqual({o.rstrip("=") for o in got_zsh if o.startswith("--")}, expected, "zsh")

    def test_subcommands_and_values(self):
        for shell in (bash_complete, zsh_complete):
            with self.subTest(shell=shell.__name__):
                self.assertEqual(shell("esimctl notifications "), {"list", "send", "remove"})
                self.assertEqual(shell("esimctl job "), {"show", "wait", "confirm", "cancel"})
                self.assertEqual(shell("esimctl notifications send --operation "),
                                 {"install", "enable", "disable", "delete", "rpm-enable", "rpm-disable",
                                  "rpm-delete", "rpm-package-result"})


class FromEsimd(unittest.TestCase):
    """ICCIDs and jobs come from esimctl, talking to a real esimd."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which("zsh"):
            raise unittest.SkipTest("zsh is not installed")
        # Jobs linger long enough for the slowest machine to list them.
        cls.w = World(config={"Daemon": {"JobLinger": "3600"}})
        job, props = cls.w.download(activation_code("DEMO-ONE"))
        assert props["State"] == "succeeded", props
        cls.job = job.rsplit("/", 1)[1]
        cls.env = dict(os.environ, PATH=ESIMCTL_DIR + ":" + os.environ["PATH"],
                       DBUS_SYSTEM_BUS_ADDRESS=cls.w.bus.address)

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def test_iccids(self):
        for shell in (bash_complete, zsh_complete):
            for line in ("esimctl enable ", "esimctl -e sim delete ", "esimctl nickname 89",
                         "esimctl notifications list --iccid "):
                with self.subTest(shell=shell.__name__, line=line):
                    self.assertEqual(shell(line, self.env), {ICCID})
            with self.subTest(shell=shell.__name__, line="another eUICC"):
                self.assertEqual(shell("esimctl --euicc 7 enable ", self.env), set())

    def test_jobs(self):
        for shell in (bash_complete, zsh_complete):
            with self.subTest(shell=shell.__name__):
                self.assertIn(self.job, shell("esimctl job show ", self.env))

    def test_without_esimd(self):
        env = dict(self.env, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent")
        for shell in (bash_complete, zsh_complete):
            with self.subTest(shell=shell.__name__):
                self.assertEqual(shell("esimctl enable ", env), set())


if __name__ == "__main__":
    unittest.main(verbosity=2)
