#!/usr/bin/python3
"""Profile rules (ES10c with the spec's result codes), notifications and persistence."""

import json
import os
import unittest

from simtest import SimTestCase, result_code

from dpside import metadata
from esimtest import crypto, der

A = "8949449999999990102"
B = "8949449999999990110"
C = "8949449999999990128"
ADDR = "notify.example.com"
ALL_EVENTS = [([0, 1, 2, 3], ADDR)]


def iccid(i: str) -> bytes:
    return der.encode(0x5A, der.iccid_to_bcd(i))


def by_iccid(i: str) -> bytes:
    return der.encode(0xA0, iccid(i))


REFRESH = der.encode(0x81, b"\xff")
NO_REFRESH = der.encode(0x81, b"\x00")


class ProfileRulesTest(SimTestCase):
    def setUp(self):
        super().setUp()
        self.install(A, md=metadata(A, nci=ALL_EVENTS))
        self.install(B, md=metadata(B, nci=[([1], ADDR)]))  # enable notifications only

    def enable(self, i, refresh=NO_REFRESH) -> int:
        return result_code(self.call(0xBF31, by_iccid(i), refresh))

    def disable(self, i, refresh=NO_REFRESH) -> int:
        return result_code(self.call(0xBF32, by_iccid(i), refresh))

    def delete(self, i) -> int:
        return result_code(self.call(0xBF33, iccid(i)))

    def states(self) -> dict:
        return {p["iccid"]: p["state"] for p in self.profiles()}

    def notifications(self, since: int = 0) -> list:
        return [(n["pmo"], n["iccid"]) for n in self.ctl.state()["notifications"] if n["seq"] >= since]

    def test_enable_disable_delete(self):
        seq = self.ctl.state()["next_seq"]
        self.assertEqual(self.enable(A), 0)
        self.assertEqual(self.enable(A), 2)  # profileNotInDisabledState
        self.assertEqual(self.delete(A), 2)  # an enabled profile cannot be deleted
        self.assertEqual(self.disable(A), 0)
        self.assertEqual(self.disable(A), 2)  # profileNotInEnabledState
        self.assertEqual(self.delete(A), 0)
        self.assertEqual(self.delete(A), 1)  # iccidOrAidNotFound
        self.assertEqual(self.enable(A), 1)
        self.assertEqual(self.disable(A), 1)
        self.assertEqual(self.states(), {B: "disabled"})
        self.assertEqual(self.notifications(seq), [("enable", A), ("disable", A), ("delete", A)])

    def test_by_aid(self):
        aid = bytes.fromhex(self.profiles()[0]["isdp_aid"])
        self.assertEqual(result_code(self.call(0xBF31, der.encode(0xA0, der.encode(0x4F, aid)), NO_REFRESH)), 0)
        self.assertEqual(self.states()[A], "enabled")
        self.assertEqual(result_code(self.call(0xBF32, der.encode(0xA0, der.encode(0x4F, aid)), NO_REFRESH)), 0)
        self.assertEqual(result_code(self.call(0xBF33, der.encode(0x4F, aid))), 0)
        self.assertEqual(result_code(self.call(0xBF33, der.encode(0x4F, aid))), 1)

    def test_enable_other_disables_current(self):
        self.enable(A)
        seq = self.ctl.state()["next_seq"]
        self.assertEqual(self.enable(B), 0)
        self.assertEqual(self.states(), {A: "disabled", B: "enabled"})
        # A's disable notification comes before B's enable notification
        self.assertEqual(self.notifications(seq), [("disable", A), ("enable", B)])
        # B is configured for enable only: disabling it queues nothing
        seq = self.ctl.state()["next_seq"]
        self.assertEqual(self.disable(B), 0)
        self.assertEqual(self.notifications(seq), [])

    def test_ppr1_forbids_disable(self):
        self.install(C, md=metadata(C, owner=bytes.fromhex("00F110"), ppr=[1]))
        self.assertEqual(self.enable(C), 0)
        self.assertEqual(self.disable(C), 3)  # disallowedByPolicy
        self.assertEqual(self.enable(A), 3)  # would disable C implicitly
        self.assertEqual(self.states()[C], "enabled")

    def test_ppr2_forbids_delete(self):
        self.install(C, md=metadata(C, owner=bytes.fromhex("00F110"), ppr=[2]))
        self.assertEqual(self.delete(C), 3)
        self.assertEqual(self.enable(C), 0)
        self.assertEqual(self.disable(C), 0)
        self.assertEqual(self.delete(C), 3)
        self.assertIn(C, self.states())

    def test_cat_busy(self):
        self.ctl.set(cat_busy=True)
        self.assertEqual(self.enable(A), 5)
        self.assertEqual(self.disable(A), 5)
        self.assertEqual(result_code(self.call(0xBF34, der.encode(0x82, der.encode_bits([0], 3)))), 5)

    def test_refresh_resets_the_card(self):
        ch = self.es10.channel
        self.assertEqual(self.enable(A, REFRESH), 0)
        # the response came; then the card reset and closed the channel
        _d, sw = self.es10.transceive(der.encode(0xBF2E))
        self.assertEqual(sw, 0x6881)
        self.assertNotIn(ch, self.ctl.state()["channels"])
        self.connect()
        self.assertEqual(self.disable(A, NO_REFRESH), 0)
        self.assertEqual(self.states()[A], "disabled")

    def test_refresh_reset_switchable(self):
        self.ctl.set(refresh_resets=False)
        self.assertEqual(self.enable(A, REFRESH), 0)
        self.assertEqual(len(self.call(0xBF2E).find(0x80).value), 16)

    def test_refresh_drops_the_session(self):
        self.auth_ok()
        self.assertEqual(self.enable(A, REFRESH), 0)
        self.assertIsNone(self.ctl.state()["session"])

    def test_nickname(self):
        resp = self.call(0xBF29, iccid(A), der.encode(0x90, "Work ☎".encode()))
        self.assertEqual(result_code(resp), 0)
        info = self.call(0xBF2D, der.encode(0xA0, iccid(A)))
        self.assertEqual(info.find(0xA0).find(0xE3).find(0x90).value.decode(), "Work ☎")
        self.assertEqual(result_code(self.call(0xBF29, iccid(C), der.encode(0x90, b"x"))), 1)
        self.assertEqual(result_code(self.call(0xBF29, iccid(A), der.encode(0x90, b"x" * 65))), 127)

    def test_profiles_info_search_and_tags(self):
        self.install(C, md=metadata(C, profile_class=0))
        every = self.call(0xBF2D).find(0xA0).children()
        self.assertEqual([der.iccid_from_bcd(e.find(0x5A).value) for e in every], [A, B, C])
        # default set: no icon; state, class, names present
        self.assertIsNone(every[0].find(0x94))
        self.assertEqual(every[0].find(0x9F70).value, b"\x00")
        tests = self.call(0xBF2D, der.encode(0xA0, der.encode(0x95, b"\x00"))).find(0xA0).children()
        self.assertEqual([der.iccid_from_bcd(e.find(0x5A).value) for e in tests], [C])
        aid = bytes.fromhex(self.profiles()[1]["isdp_aid"])
        one = self.call(0xBF2D, der.encode(0xA0, der.encode(0x4F, aid)), der.encode(0x5C, b"\x5a\x9f\x70"))
        (e3,) = one.find(0xA0).children()
        self.assertEqual([c.tag for c in e3.children()], [0x5A, 0x9F70])
        self.assertEqual(der.iccid_from_bcd(e3.find(0x5A).value), B)
        none = self.call(0xBF2D, der.encode(0xA0, iccid("8949449999999999990")))
        self.assertEqual(none.raw, bytes.fromhex("BF2D02A000"))
        bad = self.call(0xBF2D, der.encode(0xA0, der.encode(0x96, b"\x00")))
        self.assertEqual(der.decode_int(bad.find(0x81).value), 1)  # incorrectInputValues

    def test_memory_reset_by_class(self):
        self.install(C, md=metadata(C, profile_class=0))
        self.call(0xBF3F, der.encode(0x80, b"dp.example.com"))
        self.enable(A)
        self.assertEqual(result_code(self.call(0xBF34, der.encode(0x82, der.encode_bits([1], 3)))), 0)
        self.assertEqual(set(self.states()), {A, B})  # test profiles only
        self.assertEqual(result_code(self.call(0xBF34, der.encode(0x82, der.encode_bits([1], 3)))), 1)
        free = self.ctl.state()["free_memory"]
        self.assertEqual(result_code(self.call(0xBF34, der.encode(0x82, der.encode_bits([0, 2], 3)))), 0)
        self.connect()  # A was enabled: the reset closed the channel
        st = self.ctl.state()
        self.assertEqual((st["profiles"], st["default_smdp"]), ([], None))
        self.assertGreater(st["free_memory"], free)
        self.assertEqual(result_code(self.call(0xBF34, der.encode(0x82, der.encode_bits([0, 1, 2], 3)))), 1)

    def test_memory_reset_of_enabled_profile_refreshes(self):
        self.enable(A)
        self.assertEqual(result_code(self.call(0xBF34, der.encode(0x82, der.encode_bits([0], 3)))), 0)
        self.assertEqual(self.es10.transceive(der.encode(0xBF2E))[1], 0x6881)

    def test_free_memory_returns_on_delete(self):
        free = self.ctl.state()["free_memory"]
        size = self.profiles()[0]["size"]
        self.assertEqual(self.delete(A), 0)
        self.assertEqual(self.ctl.state()["free_memory"], free + size)


class NotificationTest(SimTestCase):
    def setUp(self):
        super().setUp()
        self.install(A, md=metadata(A, nci=ALL_EVENTS))
        self.call(0xBF31, by_iccid(A), NO_REFRESH)
        self.call(0xBF32, by_iccid(A), NO_REFRESH)

    def test_list_in_order_with_metadata(self):
        lst = self.call(0xBF28).find(0xA0).children()
        seqs = [der.decode_int(m.find(0x80).value) for m in lst]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(seqs[0], 0)  # seqNumber 0 is a real notification
        ops = [der.decode_bits(m.find(0x81).value) for m in lst]
        self.assertEqual(ops, [{0}, {1}, {2}])
        self.assertEqual(lst[0].find(0x0C).value, b"testsmdpplus1.example.com")  # PIR → the SM-DP+
        self.assertEqual(lst[1].find(0x0C).value, ADDR.encode())
        self.assertEqual(der.iccid_from_bcd(lst[2].find(0x5A).value), A)
        # filtered
        only = self.call(0xBF28, der.encode(0x81, der.encode_bits([1], 4))).find(0xA0).children()
        self.assertEqual([der.decode_bits(m.find(0x81).value) for m in only], [{1}])

    def test_retrieve_and_verify(self):
        pending = self.call(0xBF2B).find(0xA0).children()
        self.assertEqual([p.tag for p in pending], [0xBF37, 0x30, 0x30])
        for p in pending[1:]:
            tbs, sig, euicc_cert, eum_cert = p.children()
            self.assertEqual(tbs.tag, 0xBF2F)
            self.assertTrue(crypto.verify_raw(crypto.load_cert(euicc_cert.raw), tbs.raw, sig.value))
            crypto.check_chain(crypto.load_cert(euicc_cert.raw), [crypto.load_cert(eum_cert.raw)], [self.ci_cert],
                               crypto.ROLE_EUICC)
        by_seq = self.call(0xBF2B, der.encode(0xA0, der.encode(0x80, der.encode_int(1)))).find(0xA0).children()
        self.assertEqual([p.raw for p in by_seq], [pending[1].raw])
        by_op = self.call(0xBF2B, der.encode(0xA0, der.encode(0x81, der.encode_bits([0], 4)))).find(0xA0).children()
        self.assertEqual([p.raw for p in by_op], [pending[0].raw])
        missing = self.call(0xBF2B, der.encode(0xA0, der.encode(0x80, der.encode_int(99))))
        self.assertEqual(der.decode_int(missing.find(0x81).value), 1)  # noResultAvailable

    def test_remove(self):
        self.assertEqual(result_code(self.call(0xBF30, der.encode(0x80, der.encode_int(1)))), 0)
        self.assertEqual(result_code(self.call(0xBF30, der.encode(0x80, der.encode_int(1)))), 1)  # nothingToDelete
        seqs = [der.decode_int(m.find(0x80).value) for m in self.call(0xBF28).find(0xA0).children()]
        self.assertEqual(seqs, [0, 2])

    def test_sequence_survives_restart_and_removal(self):
        for s in (0, 1, 2):
            self.call(0xBF30, der.encode(0x80, der.encode_int(s)))
        self.restart_sim()
        self.call(0xBF31, by_iccid(A), NO_REFRESH)
        (m,) = self.call(0xBF28).find(0xA0).children()
        self.assertEqual(der.decode_int(m.find(0x80).value), 3)


class PersistenceTest(SimTestCase):
    def test_state_survives_restart(self):
        self.install(A)
        self.install(B)
        self.call(0xBF31, by_iccid(B), NO_REFRESH)
        self.call(0xBF29, iccid(A), der.encode(0x90, b"nick"))
        self.call(0xBF3F, der.encode(0x80, b"dp.example.com"))
        before = self.ctl.state()
        self.restart_sim()
        after = self.ctl.state()
        for key in ("profiles", "notifications", "next_seq", "default_smdp", "free_memory"):
            self.assertEqual(after[key], before[key], key)
        info = self.call(0xBF2D, der.encode(0x5C, b"\x5a\x9f\x70\x90")).find(0xA0).children()
        self.assertEqual([(der.iccid_from_bcd(e.find(0x5A).value), e.find(0x9F70).value) for e in info],
                         [(A, b"\x00"), (B, b"\x01")])
        self.assertEqual(info[0].find(0x90).value, b"nick")

    def test_state_file_is_written_atomically(self):
        self.install(A)
        with open(self.sim.state_path) as f:
            data = json.load(f)
        self.assertEqual([p["iccid"] for p in data["profiles"]], [A])
        leftovers = [n for n in os.listdir(os.path.dirname(self.sim.state_path)) if n.startswith(".esim-sim-state.")]
        self.assertEqual(leftovers, [])

    def test_reset_restores_initial_state(self):
        self.install(A)
        self.ctl.reset()
        st = self.ctl.state()
        self.assertEqual((st["profiles"], st["notifications"], st["next_seq"]), ([], [], 0))


if __name__ == "__main__":
    unittest.main()
