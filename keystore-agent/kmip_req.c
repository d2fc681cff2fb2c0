/*
 * The KMIP store's requests (spec/keystores-vault-ciphertrust-kmip-
 * pkcs11.md §3.4): the message each step of a call (kmip_call.h) sends,
 * its operation and name, and what a failed call was doing, for details.
 */
#include <stdio.h>
#include <string.h>

#include "keystore-agent/backend.h"
#include "keystore-agent/kmip_call.h"

/* "create 'prefix/name'", "list keys": what failed, for a detail. */
const char *
kc_verb(const struct kcall *kc)
{
	static char	 s[KMIP_NAME_MAX + 32];
	const char	*v;

	switch (kc->op->type) {
	case KS_OP_CREATE:
		v = "create";
		break;
	case KS_OP_GET:
		v = "read";
		break;
	case KS_OP_DELETE:
		v = "delete";
		break;
	case KS_OP_LIST:
		return "list keys";
	default:
		return "reach the key store";
	}
	snprintf(s, sizeof(s), "%s '%.200s'", v, kc->name);
	return s;
}

int
kc_build(struct kcall *kc, struct buf *b, const struct kmip_hdr *h)
{
	const struct kmip_conf	*s = &kmip_state.s;
	const char		*group = s->group[0] != '\0' ? s->group : NULL;
	struct kmip_locate	 l = { kc->name, group, 0, 0 };
	struct kmip_register	 r = { kc->name, group, s->usage_mask,
				    kc->value, kc->vlen };
	const char		*one[1] = { kc->target };

	switch (kc->step) {
	case S_LOCATE:
	case S_SETTLE_LOCATE:
		return kmip_req_locate(b, h, &l);
	case S_LIST_LOCATE:
		l.name = NULL;
		/*
		 * Offset Items came with 1.3 (§3.3): one page before, as
		 * large as the server likes unless it said it is too large.
		 */
		if (h->version.major > 1 || h->version.minor >= 3) {
			l.max_items = kc->page;
			l.offset_items = kc->offset;
		} else if (kc->shrunk)
			l.max_items = kc->page;
		return kmip_req_locate(b, h, &l);
	case S_ATTRS:
	case S_SETTLE_ATTRS:
	case S_LIST_ATTRS:
		kc->an = kc->uids.n - kc->ai;
		if (kc->an > kc->batch)
			kc->an = kc->batch;
		return kmip_req_get_attributes(b, h,
		    (const char *const *)kc->uids.uid + kc->ai, kc->an,
		    kc->mask);
	case S_GET_STATE:
		return kmip_req_get_attributes(b, h, one, 1, KMIP_ATTR_STATE);
	case S_GET:
		return kmip_req_get(b, h, kc->target);
	case S_REGISTER:
		return kmip_req_register(b, h, &r);
	case S_ACTIVATE:
		return kmip_req_activate(b, h, kc->own);
	case S_DESTROY:
		return kmip_req_destroy(b, h, kc->target);
	case S_REVOKE:
		return kmip_req_revoke(b, h, kc->target,
		    KMIP_REVOKE_CESSATION);
	case S_STATUS:
		return kmip_req_discover_versions(b, h, NULL, 0);
	case S_QUERY:
		return kmip_req_query(b, h);
	}
	return -1;
}

const char *
kc_step_name(enum kstep s)
{
	switch (s) {
	case S_LOCATE:
	case S_SETTLE_LOCATE:
	case S_LIST_LOCATE:
		return "Locate";
	case S_ATTRS:
	case S_SETTLE_ATTRS:
	case S_LIST_ATTRS:
	case S_GET_STATE:
		return "Get Attributes";
	case S_GET:
		return "Get";
	case S_REGISTER:
		return "Register";
	case S_ACTIVATE:
		return "Activate";
	case S_DESTROY:
		return "Destroy";
	case S_REVOKE:
		return "Revoke";
	case S_STATUS:
		return "Discover Versions";
	case S_QUERY:
		return "Query";
	}
	return "?";
}

uint32_t
kc_step_op(enum kstep s)
{
	switch (s) {
	case S_LOCATE:
	case S_SETTLE_LOCATE:
	case S_LIST_LOCATE:
		return KMIP_OP_LOCATE;
	case S_ATTRS:
	case S_SETTLE_ATTRS:
	case S_LIST_ATTRS:
	case S_GET_STATE:
		return KMIP_OP_GET_ATTRIBUTES;
	case S_GET:
		return KMIP_OP_GET;
	case S_REGISTER:
		return KMIP_OP_REGISTER;
	case S_ACTIVATE:
		return KMIP_OP_ACTIVATE;
	case S_DESTROY:
		return KMIP_OP_DESTROY;
	case S_REVOKE:
		return KMIP_OP_REVOKE;
	case S_STATUS:
		return KMIP_OP_DISCOVER_VERSIONS;
	case S_QUERY:
		return KMIP_OP_QUERY;
	}
	return 0;
}
