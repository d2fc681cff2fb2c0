/*
 * keyward identity [new|of] ...: API keys and identities, computed
 * offline (spec §4.4, §9). `identity info` and `identity ls` ask a
 * server and live elsewhere (keyward.c routes them).
 */
#ifndef KEYWARD_CLI_IDENTITY_H
#define KEYWARD_CLI_IDENTITY_H

/* argv[0] is "identity". Returns an exit code of cli/cli.h. */
int	identity_main(int argc, char **argv);

#endif
