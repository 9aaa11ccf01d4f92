/* serve.c — `ladle serve`: the online server (being built: issue "Online serving"). */
#include <stdio.h>

#include "cli/cli.h"

int cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_fail("serve", "not built yet");
}
