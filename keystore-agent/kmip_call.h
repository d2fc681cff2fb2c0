/*
 * One call of the KMIP store (kmip.c): its state and the steps it goes
 * through, each one request on a pooled connection. kmip.c runs the
 * chain, kmip_req.c builds each step's request, kmip_list.c reads a
 * list's pages. Only those files include this.
 */
#ifndef KEYWARD_KS_KMIP_CALL_H
#define KEYWARD_KS_KMIP_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/ev.h"
#include "keystore-agent/kmip_int.h"
#include "keystore-agent/kmip_msg.h"

#define ATTR_BATCH	50	/* Get Attributes per message (§3.4 List) */
#define PAGE_ITEMS	500	/* Locate page of a list */
/* After a Response Too Large (§3.5): pages and batches this much smaller. */
#define SHRINK		10
#define LIST_UIDS_MAX	65536	/* objects a list looks at */

enum kstep {
	S_LOCATE,		/* by name: get, create, delete */
	S_ATTRS,		/* the located objects' attributes */
	S_GET,
	S_GET_STATE,		/* a Get without material: its State */
	S_REGISTER,
	S_ACTIVATE,
	S_SETTLE_LOCATE,	/* create, after create_settle */
	S_SETTLE_ATTRS,
	S_DESTROY,
	S_REVOKE,
	S_LIST_LOCATE,
	S_LIST_ATTRS,
	S_STATUS,
	S_QUERY,
};

struct kcall {
	struct ks_op		*op;
	enum kstep		 step;
	struct kwait		 wait;
	struct kconn		*c;
	bool			 reused;	/* c served requests before */
	bool			 inflight;
	bool			 retried;	/* once on a fresh connection */
	char			 name[KMIP_NAME_MAX + 1];
	uint8_t			*value;		/* create: a copy */
	size_t			 vlen;
	struct kmip_uids	 uids;
	struct kmip_attrs	*attrs;		/* uids.n; zero: gone */
	size_t			 ai;		/* next uid to ask about */
	size_t			 an;		/* asked in this message */
	unsigned int		 mask;		/* KMIP_ATTR_* */
	char			 own[KMIP_UID_MAX + 1];	/* create */
	char			 target[KMIP_UID_MAX + 1];
	size_t			 cur;		/* delete: uids[cur] */
	bool			 revoked;
	int			 final;		/* after the deletes */
	int32_t			 offset;	/* list */
	int32_t			 page;		/* Locate page of a list */
	size_t			 batch;		/* Get Attributes per message */
	bool			 shrunk;	/* after a Response Too Large */
	struct ev_timer		 settle;
	uint64_t		 t0;		/* status: ns */
};

/* kmip.c */
void	kc_go(struct kcall *);			/* the current step */
void	kc_step(struct kcall *, enum kstep);	/* the next one */
/* The call ends: rc 0 or an enum ks_fail, and a detail for a failure. */
void	kc_done(struct kcall *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* A KMIP failure of the current step: the reason, its message, a hint. */
void	kc_kmip_fail(struct kcall *, const char *what,
	    const struct kmip_item *);

/* kmip_req.c */
/* "create 'prefix/name'", "list keys": what failed, for a detail. */
const char *kc_verb(const struct kcall *);
/* The current step's request into b; 0 or -1 (it does not fit). */
int	kc_build(struct kcall *, struct buf *, const struct kmip_hdr *);
const char *kc_step_name(enum kstep);	/* "Locate", ... */
uint32_t kc_step_op(enum kstep);	/* KMIP_OP_* */

/* kmip_list.c */
/* A page of a list's Locate: the next page, or the attributes. */
void	kc_list_page(struct kcall *, const struct kmip_item *);
/* Every attribute in: the names, and the call ends. */
void	kc_list_names(struct kcall *);

#endif
