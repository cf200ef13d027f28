/* mbim-commands.h — the MBIM requests esimd sends and what it reads from the answers: the MS UICC
 * Low Level Access service (channels, APDUs, UICC reset), Basic Connect (device caps, radio,
 * subscriber ready state) and the MS Basic Connect Extensions slot commands. No I/O: the
 * transport (transport-mbim.c) sends, the fuzzer and the unit tests feed answers directly. */
#pragma once

#include <glib.h>
#include <libmbim-glib.h>

G_BEGIN_DECLS

/* The channel group esimd opens its channels in. ModemManager uses 1, ChromeOS Hermes 2: closing
 * "every channel of group 3" at connection removes what an esimd that died left open, and
 * nobody else's. */
#define ESIMD_MBIM_CHANNEL_GROUP 3

/* SELECT P2 for the ISD-R: 04, "return the FCP template" (ETSI TS 102 221 §11.1.1), as
 * ModemManager and Hermes send it. lpac sends 0C since its pull request 438 (tested on a Fibocom
 * L850GL, a Foxconn T99W175 and a DW5821e; it does not say 04 failed there); Qualcomm's own MBIM
 * function (qbi_svc_msuicc.c) maps 00, 04, 08, 0C and 10 alike onto QMI's FCI kinds and refuses
 * only other values. */
#define ESIMD_MBIM_SELECT_P2 0x04

/* MS UICC Low Level Access status codes (Microsoft, "MB low level UICC access"); libmbim 1.28
 * has no names for them. */
#define ESIMD_MBIM_STATUS_NO_LOGICAL_CHANNELS     0x87430001
#define ESIMD_MBIM_STATUS_SELECT_FAILED           0x87430002
#define ESIMD_MBIM_STATUS_INVALID_LOGICAL_CHANNEL 0x87430003

MbimMessage *esimd_mbim_open_channel_new (GBytes *aid);
/* @channel 0 closes every channel of esimd's group. */
MbimMessage *esimd_mbim_close_channel_new (guint32 channel);
/* A command APDU shaped like case 3 (CLA INS P1 P2 Lc data) goes with Le = 00: modems that see
 * no Le do not fetch the card's answer (lpac issue 118; ModemManager and Hermes add the 00 too).
 * ClassByteType is "extended" (ETSI TS 102 221): with "inter-industry" some modems clear the
 * proprietary bit of the CLA and STORE DATA fails (lpac pull request 438). */
MbimMessage *esimd_mbim_apdu_new (guint32 channel, GBytes *command);
/* A UICC reset with pass-through disabled: the modem resets the card and reads it again as an
 * ordinary UICC. */
MbimMessage *esimd_mbim_uicc_reset_new (void);

/* The answers. Each checks the message is the COMMAND_DONE of its command, turns a status
 * other than success into an LPA_ERROR_TRANSPORT that names it, and never trusts a length. */
/* @channel: the channel opened; when the SELECT in it was refused, the channel the modem still
 * holds open (for the caller to close), else 0. */
gboolean esimd_mbim_open_channel_parse (const MbimMessage *response, guint8 *channel,
                                        GError **error);
/* The whole R-APDU: the answer's data, then SW1 SW2 from its Status (SW1 in the low byte); when
 * the Status holds no status word, the data as it is if it ends in one. */
GBytes *esimd_mbim_apdu_parse (const MbimMessage *response, GError **error);
gboolean esimd_mbim_close_channel_parse (const MbimMessage *response, GError **error);
/* The Status of a COMMAND_DONE, whatever its command; FALSE if @response is none. */
gboolean esimd_mbim_response_status (const MbimMessage *response, guint32 *status);
gboolean esimd_mbim_uicc_reset_parse (const MbimMessage *response, GError **error);
/* The IMEI in the device caps' DeviceId (MBIM 1.0 §10.5.1: a GSM device's IMEI), 15 digits. */
char *esimd_mbim_device_caps_imei_parse (const MbimMessage *response, GError **error);
gboolean esimd_mbim_radio_state_parse (const MbimMessage *response, gboolean *on, GError **error);
/* The subscriber ready state (MbimSubscriberReadyState). */
gboolean esimd_mbim_ready_state_parse (const MbimMessage *response, guint32 *state, GError **error);
gboolean esimd_mbim_sys_caps_parse (const MbimMessage *response, guint *slots, GError **error);
/* The 0-based slot executor 0 (the modem's only, or first, stack) is mapped to. */
gboolean esimd_mbim_slot_mappings_parse (const MbimMessage *response, guint *slot, GError **error);
gboolean esimd_mbim_slot_info_parse (const MbimMessage *response, guint slot,
                                     gboolean *card_present, GError **error);

/* TRUE when @response is a COMMAND_DONE whose status says the modem has no such command
 * (NoDeviceSupport, OperationNotAllowed): the caller may fall back to another way. */
gboolean esimd_mbim_unsupported (const MbimMessage *response);

/* A libmbim error (from mbim_device_command_finish: a timeout, a closed port) as
 * LPA_ERROR_TRANSPORT "@what: …". */
GError *esimd_mbim_command_error (const char *what, const GError *error);

G_END_DECLS
