#!/usr/bin/python3
"""test-man.py — the three man pages render without warnings and document what the code has:
every esimctl command and option, every org.esim error name, every esimd.conf key, every esimd
option."""
import os
import re
import shutil
import subprocess
import sys
import unittest

ESIMCTL = os.environ.get("ESIMCTL")
SOURCE = os.environ.get("ESIMD_SOURCE_ROOT")
MAN_DIR = os.environ.get("ESIMCTL_MAN_DIR")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def page(name):
    return read(os.path.join(MAN_DIR, name))


def help_text(*args):
    r = subprocess.run([ESIMCTL, *args, "--help"], capture_output=True, text=True,
                       env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent"))
    assert r.returncode == 0, r.stderr
    return r.stdout


def long_options(text):
    return set(re.findall(r"^\s+(?:-\w, )?--([a-z][a-z-]*)", text, re.M)) - {"help"}


def documented(roff, option):
    return ("\\-\\-" + option.replace("-", "\\-")) in roff


class Render(unittest.TestCase):
    @unittest.skipUnless(shutil.which("groff"), "groff is not installed")
    def test_no_warnings(self):
        for name in ["esimctl.1", "esimd.8", "esimd.conf.5"]:
            with self.subTest(page=name):
                r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                                    os.path.join(MAN_DIR, name)], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0)
                self.assertEqual(r.stderr, "")

    def test_sections_and_substitutions(self):
        for name in ["esimctl.1", "esimd.8", "esimd.conf.5"]:
            text = page(name)
            with self.subTest(page=name):
                self.assertNotIn("@", text.replace("\\(at", ""), "an unsubstituted @VAR@")
                self.assertTrue(all(ord(c) < 128 for c in text), "non-ASCII input to troff")
                for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "SEE ALSO"]:
                    self.assertRegex(text, r'(?m)^\.SH "?' + section)
        for name in ["esimctl.1", "esimd.8"]:
            for section in ["OPTIONS", "EXIT STATUS", "ENVIRONMENT", "EXAMPLES"]:
                self.assertRegex(page(name), r'(?m)^\.SH "?' + section)


class Esimctl(unittest.TestCase):
    def setUp(self):
        self.roff = page("esimctl.1")

    def commands(self):
        block = help_text().split("Commands:\n", 1)[1].split("\n\n", 1)[0]
        return [line.split()[0] for line in block.splitlines()]

    def test_every_command_has_a_subsection(self):
        for name in self.commands():
            with self.subTest(command=name):
                self.assertRegex(self.roff, r'(?m)^\.SS "' + re.escape(name) + r'[ "\\]')

    def test_every_option_is_documented(self):
        seen = long_options(help_text())
        for name in self.commands():
            seen |= long_options(help_text(name))
        for sub in [["notifications", "send"], ["notifications", "remove"]]:
            seen |= long_options(help_text(*sub))
        self.assertIn("no-ask-password", seen)
        for option in sorted(seen):
            with self.subTest(option=option):
                self.assertTrue(documented(self.roff, option), "--" + option)

    def test_every_error_name_has_its_exit_status(self):
        names = set()
        for xml in ["org.esim.Manager.xml", "org.esim.Profile.xml", "org.esim.Job.xml"]:
            names |= set(re.findall(r"org\.esim\.Error\.([A-Za-z]+)",
                                    read(os.path.join(SOURCE, "dbus", xml))))
        self.assertGreater(len(names), 20)
        exit_status = self.roff.split('.SH "EXIT STATUS"', 1)[1].split(".SH ", 1)[0]
        for name in sorted(names):
            with self.subTest(error=name):
                self.assertRegex(exit_status, r"\b" + name + r"\b")


class EsimdConf(unittest.TestCase):
    def test_every_key_and_section(self):
        config = os.path.join(SOURCE, "daemon", "config.c")
        if not os.path.exists(config):
            self.skipTest("no daemon/config.c")
        code = read(config)
        roff = page("esimd.conf.5")
        keys = set()
        # known_*[]: the sections' keys; *_keys[]: a [Modem] section's, common and per transport
        for block in re.findall(r"(?:known\w*|\w+_keys)\[\]\s*=\s*\{(.*?)\}", code, re.S):
            keys |= set(re.findall(r'"([A-Za-z0-9]+)"', block))
        groups = {"Daemon", "Discovery", "HTTP", "Notifications"}
        self.assertTrue(groups <= keys)
        self.assertGreater(len(keys - groups), 25)
        for key in sorted(keys - groups):
            with self.subTest(key=key):
                self.assertRegex(roff, r"(?m)^\.BI " + key + r"= ")
        for group in sorted(groups) + ["Modem NAME"]:
            with self.subTest(section=group):
                self.assertIn('.SH "[' + group + ']"', roff)


class Esimd(unittest.TestCase):
    def test_every_option(self):
        main = os.path.join(SOURCE, "daemon", "main.c")
        if not os.path.exists(main):
            self.skipTest("no daemon/main.c")
        options = re.findall(r'\{\s*"([a-z][a-z-]*)",\s*(?:\'.\'|0),\s*0,\s*G_OPTION_ARG_',
                             read(main))
        self.assertIn("config", options)
        roff = page("esimd.8")
        for option in options:
            with self.subTest(option=option):
                self.assertTrue(documented(roff, option), "--" + option)


if __name__ == "__main__":
    if not (ESIMCTL and SOURCE and MAN_DIR):
        print("ESIMCTL, ESIMD_SOURCE_ROOT and ESIMCTL_MAN_DIR must be set", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
