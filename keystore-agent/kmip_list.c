/*
 * A KMIP store's list (spec/keystores-vault-ciphertrust-kmip-pkcs11.md
 * §3.4 List): Locate every Secret Data (of the Object Group) page by
 * page with Maximum and Offset Items (one page before KMIP 1.3), then the
 * Name and State of each object, and the live names under the prefix,
 * stripped, sorted, once each.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/kmip_call.h"

void
kc_list_page(struct kcall *kc, const struct kmip_item *it)
{
	struct kmip_uids	page;
	struct kmip_hdr		h;
	size_t			i;

	memset(&page, 0, sizeof(page));
	if (kmip_parse_locate(it, &page) == -1) {
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to list keys: "
		    "a malformed Locate answer");
		return;
	}
	if (kc->uids.n + page.n > LIST_UIDS_MAX) {
		kmip_uids_free(&page);
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to list keys: "
		    "more than %d objects (set object_group)", LIST_UIDS_MAX);
		return;
	}
	kc->uids.uid = xreallocarray(kc->uids.uid, kc->uids.n + page.n + 1,
	    sizeof(*kc->uids.uid));
	for (i = 0; i < page.n; i++) {
		kc->uids.uid[kc->uids.n++] = page.uid[i];
		page.uid[i] = NULL;
	}
	kmip_conn_hdr(kc->c, &h);
	if (h.version.major > 1 || h.version.minor >= 3) {
		if (page.n >= (size_t)kc->page) {
			kmip_uids_free(&page);
			kc->offset += kc->page;
			kc_step(kc, S_LIST_LOCATE);
			return;
		}
	} else if (page.n >= (size_t)kc->page)
		log_warnx("kmip: KMIP %d.%d has no Offset Items: the list may "
		    "miss objects past the server's own limit",
		    h.version.major, h.version.minor);
	kmip_uids_free(&page);
	if (kc->uids.n == 0) {
		kc_done(kc, 0, NULL);
		return;
	}
	kc->ai = 0;
	kc->mask = KMIP_ATTR_NAME | KMIP_ATTR_STATE;
	kc->attrs = xcalloc(kc->uids.n + 1, sizeof(*kc->attrs));
	kc_step(kc, S_LIST_ATTRS);
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Live objects whose Name starts with the prefix: the rest of the Name,
 * once each. */
void
kc_list_names(struct kcall *kc)
{
	const char	 *prefix = kmip_state.s.prefix;
	const char	**v;
	size_t		  i, n = 0, pl = strlen(prefix);
	int		  rc = 0;

	v = xcalloc(kc->uids.n + 1, sizeof(*v));
	for (i = 0; i < kc->uids.n; i++) {
		const struct kmip_attrs *a = &kc->attrs[i];

		if (!a->has_name || !a->has_state ||
		    !kmip_state_live(a->state) ||
		    a->name_type != KMIP_NAME_TEXT ||
		    strncmp(a->name, prefix, pl) != 0 || a->name[pl] == '\0')
			continue;
		v[n++] = a->name + pl;
	}
	qsort(v, n, sizeof(*v), strp_cmp);
	for (i = 0; i < n && rc == 0; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			rc = ks_op_name(kc->op, v[i]);
	free(v);
	if (rc == -1)
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to list keys: "
		    "too many");
	else
		kc_done(kc, 0, NULL);
}
