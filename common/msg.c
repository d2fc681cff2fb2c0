/* Names for roles and message types, for logs. */
#include "common/msg.h"

const char *
role_name(enum proc_role r)
{
	switch (r) {
	case ROLE_PARENT:	return "parent";
	case ROLE_WORKER:	return "worker";
	case ROLE_CRYPTO:	return "crypto";
	case ROLE_AGENT:	return "agent";
	default:		return "unknown";
	}
}

const char *
msg_name(unsigned int t)
{
	switch (t) {
	case MSG_HELLO:		return "HELLO";
	case MSG_CONFIG:	return "CONFIG";
	case MSG_READY:		return "READY";
	case MSG_PEER:		return "PEER";
	case MSG_RELOAD:	return "RELOAD";
	case MSG_RELOAD_DONE:	return "RELOAD_DONE";
	case MSG_SHUTDOWN:	return "SHUTDOWN";
	case MSG_STATUS_REQ:	return "STATUS_REQ";
	case MSG_STATUS_REP:	return "STATUS_REP";
	case MSG_KS_STATUS_REQ:	return "KS_STATUS_REQ";
	case MSG_KS_STATUS_REP:	return "KS_STATUS_REP";
	case MSG_ERROR:		return "ERROR";
	default:		return "UNKNOWN";
	}
}
