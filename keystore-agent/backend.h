/*
 * The key-store backend interface: what one store (fs.c, and the network
 * stores to come) gives the agent. A store is one file that defines one
 * struct ks_backend, plus one line in stores.c; nothing outside
 * keystore-agent/ changes when a store is added.
 *
 * Every call is asynchronous (OpenSSH's ssh-pkcs11-helper keeps a vendor
 * module that blocks away from the loop for the same reason): the agent
 * (calls.c) makes a struct ks_op, hands it to the store, and the store
 * completes it with ks_op_done() later, from its own event handlers, or
 * before it returns (the filesystem store). The agent owns the call: it
 * copies what the crypto process sent, arms the deadline, sends the
 * answer, and cancels a call that times out or whose channel is gone.
 * After cancel() returns the op is freed: the store must forget it and
 * never complete it.
 *
 * Configuration, in the parent (store_conf.c reads the keystore: section):
 *   parse      this store's YAML section (common/config_impl.h's helpers)
 *              into the store's own settings structure
 *   settings_put  those settings, encoded for the agent's slice
 *
 * Start-up, in the agent (agent.c, proc_run):
 *   settings   read this store's settings from the configuration slice
 *   prepare    as root, before the privilege drop: open directories, read
 *              credential files
 *   (privilege drop; chrooted only when the store says it can run so)
 *   init       after the drop, before the filter: TLS contexts, handles
 *   (the filter: the agent's own list plus the store's rules)
 * On SIGHUP the parent sends a new slice: reload() takes the store's new
 * settings, or says why they need a restart.
 *
 * Results are 0 or an enum ks_fail (common/msg.h); a detail is a sentence
 * for the log and the crypto process, never key material.
 */
#ifndef KEYWARD_KS_BACKEND_H
#define KEYWARD_KS_BACKEND_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/sandbox.h"

enum ks_op_type {
	KS_OP_STATUS,
	KS_OP_CREATE,
	KS_OP_GET,
	KS_OP_DELETE,
	KS_OP_LIST,
};

struct ks_op;
struct cfg_parser;
struct cfg_sect;

/* Whoever issued a call: the agent (calls.c), or a test driving a store
 * directly. */
struct ks_op_owner {
	void	(*done)(struct ks_op *, int result, const char *detail);
	int	(*name)(struct ks_op *, const char *name);
};

/* One call; everything in it stays valid until it is done or cancelled. */
struct ks_op {
	enum ks_op_type			 type;
	const char			*name;	/* create, get, delete: a
						 * valid key name
						 * (kes_valid_name) */
	const uint8_t			*value;	/* create: 1 to
						 * KES_STORED_MAX bytes */
	size_t				 len;
	struct buf			*out;	/* get: append the value */
	uint64_t			 latency_ns; /* status: set before
						 * done */
	void				*store;	/* the store's own state */
	const struct ks_op_owner	*owner;	/* not for the store */
	void				*owner_arg;
};

/*
 * Complete op with result 0 or an enum ks_fail (status: any non-zero is
 * "unreachable") and a detail for a failure (copied). The op is gone
 * after this returns.
 */
static inline void
ks_op_done(struct ks_op *op, int result, const char *detail)
{
	op->owner->done(op, result, detail != NULL ? detail : "");
}

/* List: one name, in any order; -1 means stop (the list fails). */
static inline int
ks_op_name(struct ks_op *op, const char *name)
{
	return op->owner->name(op, name);
}

struct ks_backend {
	const char		*name;		/* keystore.<name> */
	const char		*inner;		/* keystore.<name>.<inner>, or
						 * NULL (aws: secretsmanager) */
	const char *const	*keys;		/* known keys of its section */
	/*
	 * Parent side: parse the section (s) into a new settings structure
	 * (*conf, freed with conf_free, which wipes it); -1 after
	 * cfg_error(). KES's stores that keyward does not serve yet are
	 * parsed too, so that a KES configuration is checked; they have no
	 * calls (status is NULL).
	 */
	int	(*parse)(struct cfg_parser *, const struct cfg_sect *s,
		    void **conf);
	void	(*conf_free)(void *);
	/* Whether the store can work chrooted (an empty root has no files,
	 * no resolver configuration, no CA bundle). */
	bool			 chroot;
	/* Added to the agent's seccomp filter (common/sandbox.h). */
	const struct sb_rule	*rules;
	size_t			 nrules;
	/* A network store: the agent adds net_rules (net.h) as well (their
	 * count is no constant a store's initialiser could use). */
	bool			 net;
	/*
	 * Parent side: append this store's settings (from parse) to the
	 * agent's slice. Agent side: read them back
	 * (settings) at start, or compare them (reload: 0 when applied,
	 * -1 with err when only a restart can apply them).
	 */
	int	(*settings_put)(struct buf *, const void *conf);
	int	(*settings)(struct buf *, char *err, size_t errlen);
	int	(*reload)(struct buf *, char *err, size_t errlen);
	/* uid and gid: the server's user (-1 when not started as root). */
	int	(*prepare)(uid_t uid, gid_t gid, char *err, size_t errlen);
	int	(*init)(char *err, size_t errlen);
	/* The calls. cancel may be NULL when every call completes before
	 * it returns. */
	void	(*status)(struct ks_op *);
	void	(*create)(struct ks_op *);
	void	(*get)(struct ks_op *);
	void	(*del)(struct ks_op *);
	void	(*list)(struct ks_op *);
	void	(*cancel)(struct ks_op *);
};

/* The registered stores (stores.c). */
extern const struct ks_backend ks_backend_fs;
extern const struct ks_backend ks_backend_vault;
extern const struct ks_backend ks_backend_gemalto;	/* CipherTrust */
extern const struct ks_backend ks_backend_kmip;
/* KES's cloud and vendor stores, on the HTTPS layer (net.h). */
extern const struct ks_backend ks_backend_fortanix, ks_backend_gcp,
    ks_backend_aws, ks_backend_azure, ks_backend_entrust;

#endif
