/* The keystore agent (keystore-agent/agent.c). */
#ifndef KEYWARD_AGENT_H
#define KEYWARD_AGENT_H

int	agent_main(int, char **);

#endif
