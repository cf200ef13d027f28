/* main.c — esimctl's entry point; everything else lives in esimctl-core for the tests. */
#include "esimctl.h"

#include <locale.h>

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  return esimctl_main (argc, argv);
}
