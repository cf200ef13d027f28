#!/usr/bin/python3
"""The simulator's MBIM front (esimsim/mbim.py) on the wire: framing, Basic Connect, MS UICC Low
Level Access, the slot commands and QMI over MBIM, checked byte for byte with a raw host.

Request vectors marked "libmbim" are what libmbim 1.28.2 (Debian 12) builds for those calls,
printed by a 20-line C program against /usr/include/libmbim-glib (transaction IDs set here)."""

import os
import struct
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "pylib")]

from esimsim import mbim as M  # noqa: E402
from esimtest import der, pki  # noqa: E402
from esimtest.simctl import start_sim  # noqa: E402
from mbimclient import MbimClient, MbimError, indication_of, utf16_at  # noqa: E402

ISDR = bytes.fromhex("A0000005591010FFFFFFFF8900000100")
GET_EID = bytes.fromhex("81E2910006BF3E035C015A00")  # ES10c GetEID on channel 1, with Le
IMEI = "490154203237518"

# libmbim: mbim_message_ms_uicc_low_level_access_open_channel_set_new (16, ISD-R AID, 4, 3)
OPEN_CHANNEL_INFO = bytes.fromhex("10000000" "10000000" "04000000" "03000000") + ISDR
# libmbim: ..._apdu_set_new (1, NONE, EXTENDED, 12, GET_EID)
APDU_INFO = bytes.fromhex("01000000" "00000000" "01000000" "0c000000" "14000000") + GET_EID


def open_channel_info(aid: bytes = ISDR, p2: int = 4, group: int = 3) -> bytes:
    return struct.pack("<IIII", len(aid), 16, p2, group) + aid


def apdu_info(channel: int, command: bytes, class_type: int = 1) -> bytes:
    return struct.pack("<IIIII", channel, 0, class_type, len(command), 20) + command


class MbimFrontTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="esim-sim-mbim.")
        pki.generate(os.path.join(cls.tmp.name, "pki"))
        cls.eid = pki.read_eid(os.path.join(cls.tmp.name, "pki"))
        cls.sim = start_sim(cls.tmp.name, os.path.join(cls.tmp.name, "pki"), apdu_socket=False, mbim_pty=True,
                            mbim_slots=2, imei=IMEI)
        cls.ctl = cls.sim.ctl()

    @classmethod
    def tearDownClass(cls):
        cls.ctl.close()
        rc = cls.sim.stop()
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError("esim-sim exited with %s" % rc)

    def setUp(self):
        self.ctl.clear_faults()
        self.ctl.reset()
        self.ctl.set(get_response=False)
        self.ctl.appear()
        self.ctl.counters(reset=True)
        self.host = MbimClient(self.sim.mbim_pty)
        self.assertEqual(self.host.open(), 0)

    def tearDown(self):
        self.host.close()

    # ------------------------------------------------------------------ framing
    def test_open_close_and_commands_outside_a_session(self):
        self.assertEqual(self.host.close_session(), 0)
        with self.assertRaisesRegex(MbimError, "function error 5"):  # NotOpened
            self.host.command(M.UUID_BASIC_CONNECT, M.BC_DEVICE_CAPS, M.QUERY)
        self.assertEqual(self.host.open(), 0)
        status, _ = self.host.command(M.UUID_BASIC_CONNECT, M.BC_DEVICE_CAPS, M.QUERY)
        self.assertEqual(status, 0)

    def test_unknown_command_and_bad_lengths(self):
        status, info = self.host.command(M.UUID_BASIC_CONNECT, 99, M.QUERY)
        self.assertEqual((status, info), (M.S_NO_DEVICE_SUPPORT, b""))
        # InformationBufferLength that disagrees with the message: LengthMismatch (3)
        tid = self.host.next_tid()
        body = struct.pack("<II", 1, 0) + M.UUID_BASIC_CONNECT + struct.pack("<III", 1, 0, 8)
        self.host.write(M.message(M.COMMAND, tid, body))
        with self.assertRaisesRegex(MbimError, "function error 3"):
            self.host.wait_done(tid, M.UUID_BASIC_CONNECT, 1)

    def test_answers_are_cut_at_the_hosts_max_control_transfer(self):
        _, whole = self.host.command(M.UUID_BASIC_CONNECT, M.BC_DEVICE_CAPS, M.QUERY)
        self.assertEqual(self.host.open(64), 0)
        tid = self.host.next_tid()
        self.host.write(MbimClient.command_message(tid, M.UUID_BASIC_CONNECT, M.BC_DEVICE_CAPS, M.QUERY, b""))
        first = self.host.read_message()
        self.assertLessEqual(len(first), 64)
        total, current = struct.unpack_from("<II", first, 12)
        self.assertEqual((current, total), (0, -(-(len(whole) + 28) // 44)))
        self.host.pending.insert(0, first)
        status, info = self.host.wait_done(tid, M.UUID_BASIC_CONNECT, M.BC_DEVICE_CAPS)
        self.assertEqual((status, info), (0, whole))

    def test_commands_in_fragments(self):
        info = open_channel_info()
        tid = self.host.next_tid()
        payload = M.UUID_MS_UICC_LOW_LEVEL + struct.pack("<III", M.UICC_OPEN_CHANNEL, M.SET, len(info)) + info
        self.host.write(M.message(M.COMMAND, tid, struct.pack("<II", 2, 0) + payload[:30]))
        self.host.write(M.message(M.COMMAND, tid, struct.pack("<II", 2, 1) + payload[30:]))
        status, out = self.host.wait_done(tid, M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL)
        self.assertEqual(status, 0)
        self.assertEqual(struct.unpack_from("<I", out, 4)[0], 1)
        # a fragment out of sequence: FragmentOutOfSequence (2)
        tid = self.host.next_tid()
        self.host.write(M.message(M.COMMAND, tid, struct.pack("<II", 2, 1) + payload[30:]))
        with self.assertRaisesRegex(MbimError, "function error 2"):
            self.host.wait_done(tid, M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL)

    # ------------------------------------------------------------------ Basic Connect
    def test_device_caps_carry_the_imei(self):
        status, info = self.host.command(M.UUID_BASIC_CONNECT, M.BC_DEVICE_CAPS, M.QUERY)
        self.assertEqual(status, 0)
        self.assertEqual(struct.unpack_from("<8I", info), (1, 1, 1, 2, 0x3F, 0, 1, 1))
        self.assertEqual(utf16_at(info, 40), IMEI)  # DeviceId, MBIM 1.0 §10.5.1 table 10-14

    def test_device_services_list_the_uicc_and_qmi_services(self):
        status, info = self.host.command(M.UUID_BASIC_CONNECT, M.BC_DEVICE_SERVICES, M.QUERY)
        count = struct.unpack_from("<I", info)[0]
        uuids = set()
        for i in range(count):
            offset, _ = struct.unpack_from("<II", info, 8 + 8 * i)
            uuids.add(info[offset : offset + 16])
        self.assertEqual((status, count), (0, 4))
        self.assertIn(M.UUID_MS_UICC_LOW_LEVEL, uuids)
        self.assertIn(M.UUID_QMI, uuids)

    # ------------------------------------------------------------------ MS UICC Low Level Access
    def test_open_channel_apdu_close_on_the_wire(self):
        status, out = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, OPEN_CHANNEL_INFO)
        self.assertEqual(status, 0)
        fci = der.decode(out[16 : 16 + struct.unpack_from("<I", out, 8)[0]])
        # Status 9000 as SW1 in the low byte; channel 1; the FCI as (size, offset) = (33, 16)
        self.assertEqual(out[:16], bytes.fromhex("90000000" "01000000" "21000000" "10000000"))
        self.assertEqual((fci.tag, fci.find(0x84).value), (0x6F, ISDR))
        self.assertEqual(len(out), 16 + 36)  # 33 bytes padded to 4
        status, out = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_APDU, M.SET, APDU_INFO)
        self.assertEqual(status, 0)
        self.assertEqual(out[:12], bytes.fromhex("90000000" "15000000" "0c000000"))
        self.assertEqual(der.decode(out[12 : 12 + 21]).find(0x5A).value, der.eid_to_bytes(self.eid))
        status, out = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_CLOSE_CHANNEL, M.SET,
                                        bytes.fromhex("01000000" "03000000"))  # libmbim: close (1, 3)
        self.assertEqual((status, out), (0, bytes.fromhex("90000000")))
        self.assertEqual(self.ctl.state()["channels"], [])
        c = self.ctl.counters()
        self.assertEqual(c["cla_channel_mismatch"], 0)
        self.assertEqual(c["mbim_messages"]["ms-uicc-low-level-access/apdu/set"], 1)

    def test_channel_errors_have_their_own_status_codes(self):
        status, _ = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_APDU, M.SET, apdu_info(5, GET_EID))
        self.assertEqual(status, M.S_MS_INVALID_LOGICAL_CHANNEL)
        status, out = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET,
                                        open_channel_info(bytes.fromhex("A000000087100201")))
        self.assertEqual(status, M.S_MS_SELECT_FAILED)
        self.assertEqual(out[:4], bytes.fromhex("6a820000"))  # SW 6A82, file not found
        self.ctl.add_fault(kind="refuse_channel")
        status, _ = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        self.assertEqual(status, M.S_MS_NO_LOGICAL_CHANNELS)
        self.ctl.clear_faults()
        self.assertEqual(self.ctl.state()["channels"], [])

    def test_channel_zero_closes_the_whole_group(self):
        for group in (3, 3, 1):
            status, _ = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET,
                                          open_channel_info(group=group))
            self.assertEqual(status, 0)
        status, _ = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_CLOSE_CHANNEL, M.SET, struct.pack("<II", 0, 3))
        self.assertEqual(status, 0)
        self.assertEqual(self.ctl.state()["channels"], [3])  # group 1's channel stays
        status, _ = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_CLOSE_CHANNEL, M.SET, struct.pack("<II", 3, 3))
        self.assertEqual(status, M.S_MS_INVALID_LOGICAL_CHANNEL)  # not this group's

    def test_the_function_fetches_what_the_card_holds_back(self):
        self.ctl.set(get_response=True)
        self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        status, out = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_APDU, M.SET, APDU_INFO)
        self.assertEqual((status, out[:4]), (0, bytes.fromhex("90000000")))
        self.assertEqual(der.decode(out[12 : 12 + struct.unpack_from("<I", out, 4)[0]]).tag, 0xBF3E)
        self.assertGreater(self.ctl.counters()["get_responses"], 0)

    def test_uicc_reset_closes_channels_and_says_so(self):
        self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        resets = self.ctl.counters()["card_resets"]
        seen = []
        # libmbim: mbim_message_ms_uicc_low_level_access_reset_set_new (DISABLE): 00000000
        status, out = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_RESET, M.SET, bytes(4), seen)
        self.assertEqual((status, out), (0, bytes(4)))
        if not seen:
            seen.append(self.host.read_message())
        service, cid, info = indication_of(seen[0])
        self.assertEqual((service, cid), (M.UUID_BASIC_CONNECT, M.BC_SUBSCRIBER_READY_STATUS))
        self.assertEqual(struct.unpack_from("<I", info)[0], M.READY_NO_ESIM_PROFILE)
        self.assertEqual(self.ctl.counters()["card_resets"], resets + 1)
        status, _ = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_APDU, M.SET, APDU_INFO)
        self.assertEqual(status, M.S_MS_INVALID_LOGICAL_CHANNEL)

    def test_radio_off_powers_the_sim_down(self):
        self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        status, out = self.host.command(M.UUID_BASIC_CONNECT, M.BC_RADIO_STATE, M.SET, struct.pack("<I", 0), [])
        self.assertEqual((status, out), (0, struct.pack("<II", 1, 0)))
        status, _ = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        self.assertEqual(status, M.S_SIM_NOT_INSERTED)
        self.assertFalse(self.ctl.state()["powered"])
        status, out = self.host.command(M.UUID_BASIC_CONNECT, M.BC_RADIO_STATE, M.SET, struct.pack("<I", 1), [])
        self.assertEqual((status, out), (0, struct.pack("<II", 1, 1)))
        status, out = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        self.assertEqual((status, struct.unpack_from("<I", out, 4)[0]), (0, 1))  # channel 1 again: the first is gone

    # ------------------------------------------------------------------ slots
    def test_slot_commands(self):
        status, out = self.host.command(M.UUID_MS_BASIC_CONNECT_EXT, M.BCX_SYS_CAPS, M.QUERY)
        self.assertEqual((status, struct.unpack_from("<III", out)), (0, (1, 2, 1)))
        status, out = self.host.command(M.UUID_MS_BASIC_CONNECT_EXT, M.BCX_DEVICE_SLOT_MAPPINGS, M.QUERY)
        self.assertEqual((status, out), (0, bytes.fromhex("01000000" "0c000000" "04000000" "00000000")))
        status, out = self.host.command(M.UUID_MS_BASIC_CONNECT_EXT, M.BCX_SLOT_INFO_STATUS, M.QUERY,
                                        struct.pack("<I", 1))
        self.assertEqual((status, out), (0, struct.pack("<II", 1, M.SLOT_EMPTY)))
        # libmbim: ..._device_slot_mappings_set_new (1, {slot 1})
        status, out = self.host.command(M.UUID_MS_BASIC_CONNECT_EXT, M.BCX_DEVICE_SLOT_MAPPINGS, M.SET,
                                        bytes.fromhex("01000000" "0c000000" "04000000" "01000000"), [])
        self.assertEqual((status, out[-4:]), (0, struct.pack("<I", 1)))
        status, _ = self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        self.assertEqual(status, M.S_SIM_NOT_INSERTED)  # the eUICC is in slot 0
        status, out = self.host.command(M.UUID_MS_BASIC_CONNECT_EXT, M.BCX_DEVICE_SLOT_MAPPINGS, M.SET,
                                        bytes.fromhex("01000000" "0c000000" "04000000" "00000000"), [])
        self.assertEqual((status, out[-4:]), (0, struct.pack("<I", 0)))
        status, out = self.host.command(M.UUID_MS_BASIC_CONNECT_EXT, M.BCX_SLOT_INFO_STATUS, M.QUERY,
                                        struct.pack("<I", 0))
        self.assertEqual((status, out), (0, struct.pack("<II", 0, M.SLOT_ACTIVE_ESIM_NO_PROFILES)))

    # ------------------------------------------------------------------ QMI over MBIM
    def qmi(self, frame: bytes) -> bytes:
        status, out = self.host.command(M.UUID_QMI, M.QMI_MSG, M.SET, frame)
        self.assertEqual(status, 0)
        return out

    def test_qmi_inside_mbim(self):
        # CTL Allocate CID for UIM (0x0B), then for DMS (0x02): QMUX frames as libqmi writes them
        uim = self.qmi(bytes.fromhex("010f00000000" "0001" "2200" "0400" "01" "0100" "0b"))
        self.assertEqual(uim[-5:-2], bytes.fromhex("01" "0200"))
        cid = uim[-1]
        dms = self.qmi(bytes.fromhex("010f00000000" "0002" "2200" "0400" "01" "0100" "02"))
        dms_cid = dms[-1]
        # UIM Open Logical Channel: slot 1, AID
        tlvs = bytes.fromhex("010100" "01") + bytes([0x10]) + struct.pack("<H", 17) + bytes([16]) + ISDR
        frame = struct.pack("<BHBBB", 1, 12 + len(tlvs) - 1 + 1, 0, 0x0B, cid) + struct.pack("<BHHH", 0, 1, 0x42, len(tlvs)) + tlvs
        out = self.qmi(frame)
        self.assertEqual(out[13:20], bytes.fromhex("020400" "00000000"))  # result: success
        self.assertIn(1, self.ctl.state()["channels"])
        # DMS Get IDs: the IMEI in TLV 0x11
        frame = struct.pack("<BHBBB", 1, 12, 0, 0x02, dms_cid) + struct.pack("<BHHH", 0, 2, 0x25, 0)
        out = self.qmi(frame)
        self.assertIn(bytes([0x11]) + struct.pack("<H", 15) + IMEI.encode(), out)
        self.assertEqual(self.ctl.counters()["qmi_messages"]["dms-get-ids"], 1)

    def test_closing_the_session_releases_qmi_clients_and_channels(self):
        self.qmi(bytes.fromhex("010f00000000" "0001" "2200" "0400" "01" "0100" "0b"))
        self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        self.assertEqual(self.host.close_session(), 0)
        self.assertEqual(self.ctl.state()["channels"], [])

    # ------------------------------------------------------------------ faults, loss and return
    def test_a_drop_fault_re_enumerates_the_modem(self):
        self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        connections = self.ctl.counters()["connections"]["mbim"]
        self.ctl.add_fault(kind="drop", after=0, frontend="mbim")
        tid = self.host.next_tid()
        self.host.write(MbimClient.command_message(tid, M.UUID_MS_UICC_LOW_LEVEL, M.UICC_APDU, M.SET, APDU_INFO))
        with self.assertRaises(EOFError):  # the node hung up, unanswered
            self.host.read_message(5.0)
        self.assertEqual(self.ctl.counters()["connections"]["mbim"], connections + 1)
        self.assertEqual(self.ctl.state()["mbim"]["channels"], [])
        with MbimClient(self.sim.mbim_pty) as again:  # the new node under the same name
            self.assertEqual(again.open(), 0)
            status, _ = again.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_APDU, M.SET, APDU_INFO)
            self.assertEqual(status, M.S_MS_INVALID_LOGICAL_CHANNEL)  # the old channel is gone

    def test_a_long_delay_is_a_modem_that_stops_answering(self):
        self.host.command(M.UUID_MS_UICC_LOW_LEVEL, M.UICC_OPEN_CHANNEL, M.SET, open_channel_info())
        self.ctl.add_fault(kind="delay", ms=3000, nth=1, frontend="mbim")
        tid = self.host.next_tid()
        self.host.write(MbimClient.command_message(tid, M.UUID_MS_UICC_LOW_LEVEL, M.UICC_APDU, M.SET, APDU_INFO))
        # what comes after the held APDU waits behind it
        caps = self.host.next_tid()
        self.host.write(MbimClient.command_message(caps, M.UUID_BASIC_CONNECT, M.BC_DEVICE_CAPS, M.QUERY, b""))
        self.assertTrue(self.host.silent(1.0))
        status, _ = self.host.wait_done(tid, M.UUID_MS_UICC_LOW_LEVEL, M.UICC_APDU)
        self.assertEqual(status, 0)
        # (both answers read: nothing is left in the pty for the next test's host)
        status, _ = self.host.wait_done(caps, M.UUID_BASIC_CONNECT, M.BC_DEVICE_CAPS)
        self.assertEqual(status, 0)

    def test_disappear_hangs_up_and_appear_makes_a_new_node(self):
        self.ctl.disappear()
        self.assertFalse(os.path.lexists(self.sim.mbim_pty))
        with self.assertRaises(EOFError):
            self.host.read_message(5.0)
        self.ctl.appear()
        self.assertTrue(os.path.exists(self.sim.mbim_pty))
        with MbimClient(self.sim.mbim_pty) as again:
            self.assertEqual(again.open(), 0)
            status, _ = again.command(M.UUID_BASIC_CONNECT, M.BC_DEVICE_CAPS, M.QUERY)
            self.assertEqual(status, 0)


if __name__ == "__main__":
    unittest.main()
