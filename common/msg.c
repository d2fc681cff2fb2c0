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
	case MSG_CRYPTO_STATE:	return "CRYPTO_STATE";
	case MSG_STATUS_REQ:	return "STATUS_REQ";
	case MSG_STATUS_REP:	return "STATUS_REP";
	case MSG_KS_STATUS_REQ:	return "KS_STATUS_REQ";
	case MSG_KS_STATUS_REP:	return "KS_STATUS_REP";
	case MSG_READY_REQ:	return "READY_REQ";
	case MSG_KEY_CREATE:	return "KEY_CREATE";
	case MSG_KEY_IMPORT:	return "KEY_IMPORT";
	case MSG_KEY_DESCRIBE:	return "KEY_DESCRIBE";
	case MSG_KEY_DELETE:	return "KEY_DELETE";
	case MSG_KEY_LIST:	return "KEY_LIST";
	case MSG_KEY_GENERATE:	return "KEY_GENERATE";
	case MSG_KEY_ENCRYPT:	return "KEY_ENCRYPT";
	case MSG_KEY_DECRYPT:	return "KEY_DECRYPT";
	case MSG_KEY_HMAC:	return "KEY_HMAC";
	case MSG_KEY_BULK_DECRYPT: return "KEY_BULK_DECRYPT";
	case MSG_TLS_SIGN: return "TLS_SIGN";
	case MSG_DONE:		return "DONE";
	case MSG_KEY_INFO:	return "KEY_INFO";
	case MSG_KEY_NAMES:	return "KEY_NAMES";
	case MSG_KEY_DEK:	return "KEY_DEK";
	case MSG_KEY_SEALED:	return "KEY_SEALED";
	case MSG_KEY_OPENED:	return "KEY_OPENED";
	case MSG_KEY_MAC:	return "KEY_MAC";
	case MSG_KEY_OPENED_BULK: return "KEY_OPENED_BULK";
	case MSG_TLS_SIGNATURE: return "TLS_SIGNATURE";
	case MSG_KS_CREATE:	return "KS_CREATE";
	case MSG_KS_GET:	return "KS_GET";
	case MSG_KS_DELETE:	return "KS_DELETE";
	case MSG_KS_LIST:	return "KS_LIST";
	case MSG_KS_DONE:	return "KS_DONE";
	case MSG_KS_VALUE:	return "KS_VALUE";
	case MSG_KS_NAMES:	return "KS_NAMES";
	case MSG_KS_FAIL:	return "KS_FAIL";
	case MSG_LOG_EVENT:	return "LOG_EVENT";
	case MSG_LOG_SUBSCRIBE:	return "LOG_SUBSCRIBE";
	case MSG_ERROR:		return "ERROR";
	default:		return "UNKNOWN";
	}
}
