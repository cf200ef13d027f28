#!/usr/bin/python3
"""The card on the APDU socket: channels, SELECT, STORE DATA, GET RESPONSE, simple ES10 functions."""

import unittest

from simtest import SimTestCase

from esimtest import crypto, der
from esimtest.simctl import ApduClient, Es10Client, cla

ISDR = "A0000005591010FFFFFFFF8900000100"


class ChannelTest(SimTestCase):
    def test_select_response_carries_svn(self):
        fci = der.decode(self.es10.select_response)
        self.assertEqual(fci.tag, 0x6F)
        self.assertEqual(fci.find(0x84).value.hex().upper(), ISDR)
        self.assertEqual(fci.find(0xE0).find(0x82).value, b"\x02\x02\x02")

    def test_select_unknown_aid(self):
        _d, sw = self.apdu.transmit("01A4040010A0000005591010000000008900000300")
        self.assertEqual(sw, 0x6A82)
        # the channel no longer has the ISD-R selected
        _d, sw = self.apdu.transmit("81E2910003BF2E00")
        self.assertEqual(sw, 0x6D00)

    def test_several_channels_at_once(self):
        other = Es10Client(self.apdu)
        other.open()
        self.assertNotEqual(other.channel, self.es10.channel)
        # interleaved multi-block commands keep separate STORE DATA contexts per channel
        self.es10.block_size = other.block_size = 2
        a = self.es10.blocks(der.encode(0xBF3E, der.encode(0x5C, b"\x5a")))  # 3 blocks
        b = other.blocks(der.encode(0xBF2E))  # 2 blocks
        for apdu in (a[0], b[0], a[1]):
            self.assertEqual(self.apdu.transmit(apdu), (b"", 0x9000))
        data, sw = self.apdu.transmit(b[1])
        self.assertEqual((sw, len(der.decode(data).find(0x80).value)), (0x9000, 16))
        data, sw = self.apdu.transmit(a[2])
        self.assertEqual((sw, der.decode(data).find(0x5A).value), (0x9000, der.eid_to_bytes(self.eid)))
        self.assertEqual(len(self.ctl.state()["channels"]), 2)
        other.close()
        self.assertEqual(len(self.ctl.state()["channels"]), 1)

    def test_channels_above_three(self):
        opened = [Es10Client(self.apdu) for _ in range(5)]
        for c in opened:
            c.open()
        high = opened[-1]
        self.assertGreaterEqual(high.channel, 4)
        self.assertEqual(cla(0x80, high.channel) & 0xF0, 0xC0)
        self.assertEqual(len(high.es10_tlv(der.encode(0xBF2E)).find(0x80).value), 16)

    def test_channel_limit(self):
        for _ in range(18):
            Es10Client(self.apdu).open()
        _d, sw = self.apdu.transmit("0070000001")
        self.assertEqual(sw, 0x6A81)

    def test_closed_channel(self):
        ch = self.es10.channel
        self.es10.close()
        _d, sw = self.apdu.transmit(bytes([cla(0x80, ch), 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x2E, 0x00]))
        self.assertEqual(sw, 0x6881)
        _d, sw = self.apdu.transmit("0070800000")  # the basic channel cannot be closed
        self.assertEqual(sw, 0x6A86)

    def test_connection_close_releases_channels(self):
        other = ApduClient(self.sim.apdu_socket)
        c = Es10Client(other)
        c.open()
        self.assertIn(c.channel, self.ctl.state()["channels"])
        other.close()
        self.ctl.state()  # a round trip after the close reached the simulator
        for _ in range(50):
            if c.channel not in self.ctl.state()["channels"]:
                break
        self.assertNotIn(c.channel, self.ctl.state()["channels"])

    def test_basic_channel(self):
        self.assertEqual(self.apdu.transmit("00A4040010" + ISDR)[1], 0x9000)
        data, sw = self.apdu.transmit("80E2910003BF2E00")
        self.assertEqual((sw, data[:3]), (0x9000, b"\xbf\x2e\x12"))

    def test_unknown_instruction_and_class(self):
        self.assertEqual(self.apdu.transmit("81CA00FE00")[1], 0x6D00)
        self.assertEqual(self.apdu.transmit("FFE2910003BF2E00")[1], 0x6E00)
        self.assertEqual(self.apdu.transmit("81E2")[1], 0x6700)
        self.assertEqual(self.apdu.transmit("81E2910005BF2E00")[1], 0x6700)  # Lc says 5, 3 follow
        with self.assertRaises(ValueError):
            self.apdu.transmit("not hex")

    def test_terminal_capability(self):
        self.assertEqual(self.apdu.transmit("80AA00000AA9088100820101830107")[1], 0x9000)


class StoreDataTest(SimTestCase):
    def test_multi_block_command(self):
        self.es10.block_size = 4
        resp = self.es10.es10_tlv(der.encode(0xBF3E, der.encode(0x5C, b"\x5a")))
        self.assertEqual(resp.find(0x5A).value, der.eid_to_bytes(self.eid))
        self.assertEqual(self.ctl.counters()["store_data_sizes"].get("4"), 1)

    def test_wrong_block_number_drops_the_command(self):
        self.es10.block_size = 2
        blocks = self.es10.blocks(der.encode(0xBF3E, der.encode(0x5C, b"\x5a")))
        self.assertEqual(self.apdu.transmit(blocks[0])[1], 0x9000)
        self.assertEqual(self.apdu.transmit(blocks[2])[1], 0x6A86)  # block 2 before block 1
        # the partial command is gone: block 1 is now out of sequence too
        self.assertEqual(self.apdu.transmit(blocks[1])[1], 0x6A86)
        # a new command starts cleanly
        self.assertEqual(len(self.call(0xBF2E).find(0x80).value), 16)

    def test_first_block_must_be_zero(self):
        blocks = self.es10.blocks(der.encode(0xBF2E))
        bad = bytearray(blocks[0])
        bad[3] = 1
        self.assertEqual(self.apdu.transmit(bytes(bad))[1], 0x6A86)

    def test_bad_p1(self):
        blocks = self.es10.blocks(der.encode(0xBF2E))
        bad = bytearray(blocks[0])
        bad[2] = 0x00
        self.assertEqual(self.apdu.transmit(bytes(bad))[1], 0x6A86)

    def test_get_response_mode(self):
        self.ctl.set(get_response=True)
        request = self.es10.blocks(der.encode(0xBF22))[0]
        data, sw = self.apdu.transmit(request)
        self.assertEqual(data, b"")
        self.assertEqual(sw >> 8, 0x61)
        out = b""
        while sw >> 8 == 0x61:
            le = min(sw & 0xFF or 256, 16)  # small chunks: several GET RESPONSEs
            data, sw = self.apdu.transmit(bytes([cla(0, self.es10.channel), 0xC0, 0, 0, le]))
            out += data
        self.assertEqual(sw, 0x9000)
        self.assertEqual(der.decode(out).tag, 0xBF22)
        self.assertGreater(self.ctl.counters()["get_responses"], 2)
        self.assertEqual(self.apdu.transmit(bytes([cla(0, self.es10.channel), 0xC0, 0, 0, 0]))[1], 0x6985)

    def test_unknown_es10_tag(self):
        self.assertEqual(self.es10.transceive(der.encode(0xBF7F))[1], 0x6A80)
        self.assertEqual(self.es10.transceive(b"\xbf\x2e\x05\x00")[1], 0x6A80)  # length overruns


class Es10bBasicsTest(SimTestCase):
    def test_get_eid(self):
        self.assertEqual(self.call(0xBF3E, der.encode(0x5C, b"\x5a")).find(0x5A).value, der.eid_to_bytes(self.eid))
        self.assertEqual(self.es10.transceive(der.encode(0xBF3E, der.encode(0x5C, b"\x4f")))[1], 0x6A80)

    def test_challenge(self):
        a = self.call(0xBF2E).find(0x80).value
        b = self.call(0xBF2E).find(0x80).value
        self.assertEqual((len(a), len(b)), (16, 16))
        self.assertNotEqual(a, b)
        self.assertEqual(self.ctl.state()["session"]["stage"], "challenge")

    def test_euicc_info1(self):
        info = self.call(0xBF20)
        ski = crypto.ski(self.ci_cert)
        self.assertEqual(info.find(0x82).value, b"\x02\x02\x02")
        self.assertEqual([c.value for c in info.find(0xA9).children()], [ski])
        self.assertEqual([c.value for c in info.find(0xAA).children()], [ski])

    def test_euicc_info2(self):
        info = self.call(0xBF22)
        for tag in (0x81, 0x82, 0x83, 0x84, 0x85, 0x88, 0xA9, 0xAA, 0x04, 0x0C):
            self.assertIsNotNone(info.find(tag), "%X" % tag)
        ext = {t.tag: int.from_bytes(t.value, "big") for t in der.decode_all(info.find(0x84).value)}
        self.assertEqual(ext[0x82], self.ctl.state()["free_memory"])
        self.assertTrue({0, 3} <= der.decode_bits(info.find(0x88).value))  # additionalProfile, test profiles

    def test_configured_addresses(self):
        resp = self.call(0xBF3C)
        self.assertIsNone(resp.find(0x80))
        self.assertEqual(resp.find(0x81).value, b"testrootsmds.example.com")
        ok = self.call(0xBF3F, der.encode(0x80, b"smdp.example.com"))
        self.assertEqual(der.decode_int(ok.find(0x80).value), 0)
        self.assertEqual(self.call(0xBF3C).find(0x80).value, b"smdp.example.com")
        self.call(0xBF3F, der.encode(0x80, b""))
        self.assertIsNone(self.call(0xBF3C).find(0x80))

    def test_get_rat(self):
        rule = self.call(0xBF43).find(0xA0).children()[0]
        self.assertEqual(der.decode_bits(rule.find(0x80).value), {1, 2})
        self.assertEqual(rule.find(0xA1).children()[0].find(0x80).value, bytes.fromhex("EEEEEE"))
        self.assertEqual(der.decode_bits(rule.find(0x82).value), set())
        self.ctl.set(rat=[{"ppr_ids": [1], "operators": [{"mcc_mnc": "00F110", "gid1": "AB"}], "consent_required": True}])
        rule = self.call(0xBF43).find(0xA0).children()[0]
        self.assertEqual(der.decode_bits(rule.find(0x80).value), {1})
        op = rule.find(0xA1).children()[0]
        self.assertEqual((op.find(0x80).value, op.find(0x81).value), (bytes.fromhex("00F110"), b"\xab"))
        self.assertEqual(der.decode_bits(rule.find(0x82).value), {0})

    def test_load_crl_not_supported(self):
        resp = self.call(0xBF35, der.encode(0x30, b""))
        self.assertEqual(der.decode_int(resp.find(0x81).value), 127)


class SvnOptionTest(SimTestCase):
    sim_options = {"svn": "2.3.0", "root_smds": "ds.example.org", "default_smdp": "dp.example.org"}

    def test_svn_everywhere(self):
        self.assertEqual(der.decode(self.es10.select_response).find(0xE0).find(0x82).value, b"\x02\x03\x00")
        self.assertEqual(self.call(0xBF20).find(0x82).value, b"\x02\x03\x00")
        self.assertEqual(self.call(0xBF22).find(0x82).value, b"\x02\x03\x00")

    def test_configured_addresses_from_command_line(self):
        resp = self.call(0xBF3C)
        self.assertEqual((resp.find(0x80).value, resp.find(0x81).value), (b"dp.example.org", b"ds.example.org"))


if __name__ == "__main__":
    unittest.main()
