/* test-udev-port.c — which udev devices discovery probes, on real machines' udev records.
 *
 * Each record is what `udevadm info` printed on a real machine, as quoted in a public bug report
 * (the source is named above it); where the daemon adds a value itself (ID_USB_DRIVER from the
 * USB interface's driver, when udev's usb_id did not run for the port) the test says so. */
#include "udev-port.h"

#include <glib.h>

/* systemd issue #10515 (2018): a cdc-wdm0 QMI port; udev gave usbmisc devices no usb_id
 * properties, so ID_USB_DRIVER is absent. */
static const char *const cdc_wdm_10515 =
    "P: /devices/pci0000:00/0000:00:1c.4/0000:03:00.0/0000:04:02.0/0000:39:00.0/usb3/3-1/3-1:1.4/"
    "usbmisc/cdc-wdm0\n"
    "N: cdc-wdm0\n"
    "E: DEVNAME=/dev/cdc-wdm0\n"
    "E: DEVPATH=/devices/pci0000:00/0000:00:1c.4/0000:03:00.0/0000:04:02.0/0000:39:00.0/usb3/"
    "3-1/3-1:1.4/usbmisc/cdc-wdm0\n"
    "E: ID_MM_CANDIDATE=1\n"
    "E: MAJOR=180\n"
    "E: MINOR=0\n"
    "E: SUBSYSTEM=usbmisc\n"
    "E: USEC_INITIALIZED=585543158474\n";

/* systemd issue #23288 (2022, systemd 251): a Fibocom L830-EB's MBIM port on the wwan bus. */
static const char *const wwan_mbim_23288 =
    "P: /devices/pci0000:00/0000:00:14.0/usb3/3-2/3-2:1.0/wwan/wwan0/wwan0mbim0\n"
    "M: wwan0mbim0\n"
    "E: DEVPATH=/devices/pci0000:00/0000:00:14.0/usb3/3-2/3-2:1.0/wwan/wwan0/wwan0mbim0\n"
    "E: DEVNAME=/dev/wwan0mbim0\n"
    "E: DEVTYPE=wwan_port\n"
    "E: MAJOR=240\n"
    "E: MINOR=0\n"
    "E: SUBSYSTEM=wwan\n"
    "E: USEC_INITIALIZED=9488568\n"
    "E: ID_MM_CANDIDATE=1\n"
    "E: ID_MM_PORT_TYPE_MBIM=1\n";

/* systemd issue #25238 (2022): a ttyUSB0 of the "option" USB serial driver (a modem's), whose
 * record carries no ModemManager port-type tag. */
static const char *const ttyusb_25238 =
    "DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/1-7/1-7:1.0/ttyUSB0/tty/ttyUSB0\n"
    "DEVNAME=/dev/ttyUSB0\n"
    "SUBSYSTEM=tty\n"
    "MAJOR=188\n"
    "MINOR=0\n";

/* node-serialport issue #1247 (2017, OpenWrt): `udevadm info --query=property` of a ttyACM0, an
 * old udev naming DEVNAME without /dev. */
static const char *const ttyacm_1247 =
    "UDEV_LOG=3\n"
    "DEVPATH=/devices/101c0000.ehci/usb1/1-1/1-1.1/1-1.1:1.0/tty/"
    "ttyACM0\n"
    "MAJOR=166\n"
    "MINOR=0\n"
    "DEVNAME=ttyACM0\n"
    "SUBSYSTEM=tty\n";

static EsimdUdevPort *
classify (const char *record, const char *extra)
{
  g_autofree char *text = g_strconcat (record, extra ? extra : "", NULL);
  g_autoptr (GHashTable) props = esimd_udev_props_parse (text);

  return esimd_udev_port_classify (props);
}

static void
test_cdc_wdm (void)
{
  g_autoptr (EsimdUdevPort) bare = classify (cdc_wdm_10515, NULL);
  g_autoptr (EsimdUdevPort) qmi = NULL;
  g_autoptr (EsimdUdevPort) mbim = NULL;
  g_autoptr (EsimdUdevPort) other = NULL;

  /* Without its driver a cdc-wdm port may speak anything (Huawei's speak AT): not probed. */
  g_assert_null (bare);
  /* What discovery-udev.c adds from the interface's driver link. */
  qmi = classify (cdc_wdm_10515, "E: ID_USB_DRIVER=qmi_wwan\n");
  g_assert_nonnull (qmi);
  g_assert_cmpstr (qmi->name, ==, "cdc-wdm0");
  g_assert_cmpstr (qmi->transport, ==, "qmi");
  g_assert_cmpstr (qmi->uid, ==,
                   "/sys/devices/pci0000:00/0000:00:1c.4/0000:03:00.0/0000:04:02.0/0000:39:00.0/"
                   "usb3/3-1");
  mbim = classify (cdc_wdm_10515, "E: ID_USB_DRIVER=cdc_mbim\n");
  g_assert_cmpstr (mbim->transport, ==, "mbim");
  other = classify (cdc_wdm_10515, "E: ID_USB_DRIVER=huawei_cdc_ncm\n");
  g_assert_null (other);
}

static void
test_wwan (void)
{
  g_autoptr (EsimdUdevPort) port = classify (wwan_mbim_23288, NULL);

  g_assert_nonnull (port);
  g_assert_cmpstr (port->name, ==, "wwan0mbim0");
  g_assert_cmpstr (port->transport, ==, "mbim");
  /* The USB device the interface belongs to: ModemManager's Device for the modem. */
  g_assert_cmpstr (port->uid, ==, "/sys/devices/pci0000:00/0000:00:14.0/usb3/3-2");
}

static void
test_wwan_names (void)
{
  static const struct
  {
    const char *name;
    const char *transport;
  } cases[] = {
    { "wwan0qmi0", "qmi" }, { "wwan1mbim0", "mbim" }, { "wwan0at0", "at" },
    { "wwan0at1", "at" },   { "wwan0qcdm0", NULL },   { "wwan0firehose0", NULL },
    { "wwan0at", NULL },    { "wwanqmi0", NULL },     { "wwan0xmmrpc0", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *record = g_strdup_printf (
          "DEVPATH=/devices/pci0000:00/0000:00:1c.0/0000:03:00.0/mhi0/wwan/wwan0/%s\n"
          "DEVNAME=/dev/%s\nSUBSYSTEM=wwan\n",
          cases[i].name, cases[i].name);
      g_autoptr (EsimdUdevPort) port = classify (record, NULL);

      g_assert_cmpstr (port ? port->transport : NULL, ==, cases[i].transport);
    }
}

/* A tty is probed only when tagged: writing AT commands to a console, a GPS or a
 * microcontroller could do anything. */
static void
test_tty_only_when_tagged (void)
{
  g_autoptr (EsimdUdevPort) untagged = classify (ttyusb_25238, NULL);
  g_autoptr (EsimdUdevPort) acm = classify (ttyacm_1247, NULL);
  g_autoptr (EsimdUdevPort) candidate = classify (ttyusb_25238, "ID_MM_CANDIDATE=1\n");
  g_autoptr (EsimdUdevPort) serial8250 =
      classify ("DEVPATH=/devices/platform/serial8250/tty/ttyS0\nDEVNAME=/dev/ttyS0\n"
                "SUBSYSTEM=tty\nID_MM_CANDIDATE=1\n",
                NULL);
  g_autoptr (EsimdUdevPort) primary = NULL;
  g_autoptr (EsimdUdevPort) secondary = NULL;
  g_autoptr (EsimdUdevPort) admin = NULL;
  g_autoptr (EsimdUdevPort) excluded = NULL;

  g_assert_null (untagged);
  g_assert_null (acm);
  /* ModemManager's candidate tag is on every tty it may look at, modem or not. */
  g_assert_null (candidate);
  g_assert_null (serial8250);
  /* ModemManager's vendor rules name a modem's AT ports. */
  primary = classify (ttyusb_25238, "ID_MM_PORT_TYPE_AT_PRIMARY=1\n");
  g_assert_nonnull (primary);
  g_assert_cmpstr (primary->transport, ==, "at");
  g_assert_true (primary->primary);
  g_assert_cmpstr (primary->name, ==, "ttyUSB0");
  g_assert_cmpstr (primary->uid, ==, "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-7");
  secondary = classify (ttyusb_25238, "ID_MM_PORT_TYPE_AT_SECONDARY=1\n");
  g_assert_false (secondary->primary);
  /* The administrator's own tag, with a udev rule; and "none" to keep esimd off a port. */
  admin = classify (ttyacm_1247, "ESIMD_PORT_TYPE=at\n");
  g_assert_cmpstr (admin->name, ==, "ttyACM0");
  g_assert_cmpstr (admin->uid, ==, "/sys/devices/101c0000.ehci/usb1/1-1/1-1.1");
  excluded = classify (cdc_wdm_10515, "ID_USB_DRIVER=qmi_wwan\nESIMD_PORT_TYPE=none\n");
  g_assert_null (excluded);
}

static void
test_uid (void)
{
  static const struct
  {
    const char *devpath;
    const char *uid;
  } cases[] = {
    /* OpenWrt's qmi.sh comments (openwrt/openwrt, package/network/utils/uqmi): a PCIe modem's
     * QMI port on the wwan bus, without and with the MHI bus in between. */
    { "/devices/platform/soc/11280000.pcie/pci0003:00/0003:00:00.0/0003:01:00.0/wwan/wwan0/"
      "wwan0qmi0",
      "/sys/devices/platform/soc/11280000.pcie/pci0003:00/0003:00:00.0/0003:01:00.0" },
    { "/devices/platform/soc/11280000.pcie/pci0003:00/0003:00:00.0/0003:01:00.0/mhi0/wwan/wwan0/"
      "wwan0qmi0",
      "/sys/devices/platform/soc/11280000.pcie/pci0003:00/0003:00:00.0/0003:01:00.0" },
    /* Behind a hub: the last USB device, not the hub. */
    { "/devices/platform/fc400000.usb/xhci-hcd.0.auto/usb4/4-1/4-1.4/4-1.4.4/4-1.4.4:1.4/usbmisc/"
      "cdc-wdm2",
      "/sys/devices/platform/fc400000.usb/xhci-hcd.0.auto/usb4/4-1/4-1.4/4-1.4.4" },
    /* Neither USB nor wwan: the port is its own device. */
    { "/devices/platform/serial8250/tty/ttyS0", "/sys/devices/platform/serial8250/tty/ttyS0" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *uid = esimd_udev_port_uid (cases[i].devpath);

      g_assert_cmpstr (uid, ==, cases[i].uid);
    }
}

static void
test_malformed (void)
{
  /* Missing keys, and a name that would leave /dev. */
  g_assert_null (classify ("SUBSYSTEM=wwan\nDEVNAME=/dev/wwan0qmi0\n", NULL));
  g_assert_null (classify ("DEVPATH=/devices/x/wwan/wwan0/wwan0qmi0\nSUBSYSTEM=wwan\n", NULL));
  g_assert_null (classify ("DEVPATH=/devices/x\nDEVNAME=/dev/../etc/passwd\nSUBSYSTEM=tty\n"
                           "ESIMD_PORT_TYPE=at\n",
                           NULL));
  g_assert_null (classify ("", NULL));

  /* The same rule for a port ModemManager names (discovery-mm.c). */
  g_assert_true (esimd_port_name_ok ("ttyUSB2"));
  g_assert_true (esimd_port_name_ok ("wwan0at0"));
  g_assert_false (esimd_port_name_ok (""));
  g_assert_false (esimd_port_name_ok (NULL));
  g_assert_false (esimd_port_name_ok (".."));
  g_assert_false (esimd_port_name_ok ("../dev/cdc-wdm0"));
  g_assert_false (esimd_port_name_ok ("x/../../etc/shadow"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/udev-port/cdc-wdm", test_cdc_wdm);
  g_test_add_func ("/udev-port/wwan", test_wwan);
  g_test_add_func ("/udev-port/wwan-names", test_wwan_names);
  g_test_add_func ("/udev-port/tty-only-when-tagged", test_tty_only_when_tagged);
  g_test_add_func ("/udev-port/uid", test_uid);
  g_test_add_func ("/udev-port/malformed", test_malformed);
  return g_test_run ();
}
