/*
 * The PKCS#11 seal (spec/keystores-vault-ciphertrust-kmip-pkcs11.md §4):
 * every value the agent hands to a key store is first encrypted with
 * AES-256-GCM under a non-extractable key inside a token, the key name as
 * additional data; a value read back is decrypted in the token. The
 * stores never know.
 *
 * Who does what:
 *   seal_parse.c   keystore.seal.pkcs11 in the parent, and its encoding
 *                  in the agent's slice (after the store's settings)
 *   seal.c         the agent's side: starts the helper, and wraps the
 *                  store's create/get/status (the seal layer)
 *   seal_helper.c  `keyward seal-helper`: the one process that loads the
 *                  vendor module and logs in (it wipes the PIN then)
 *   seal_p11.c     the PKCS#11 calls (helper and the seal commands)
 *   seal_fmt.c     the kwseal:v1: value format and its AAD
 *   seal_cmd.c     `keyward seal keygen|seal-fs|unseal-fs`
 */
#ifndef KEYWARD_KS_SEAL_H
#define KEYWARD_KS_SEAL_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct cfg_parser;
struct cfg_sect;
struct ks_backend;

/* keystore.seal.pkcs11 (§4.1). */
struct seal_conf {
	char	 *module;	/* absolute path of the PKCS#11 library */
	char	 *token;	/* exactly one of token, serial, slot */
	char	 *serial;
	long	  slot;		/* -1: not set */
	char	 *pin;		/* exactly one of pin, pin_file (or an */
	char	 *pin_file;	/* empty pin on a PIN-pad token) */
	char	 *key;		/* CKA_LABEL of the key for new seals */
	char	 *key_id;	/* optional CKA_ID, hex */
	char	**old_keys;	/* labels still accepted for unsealing */
	size_t	  nold_keys;
	unsigned int sessions;	/* pool sessions (helper threads) */
	bool	  allow_unsealed_reads;
	/* NAME=value set in the helper's environment only (the parent
	 * starts every child with an empty one), e.g. SOFTHSM2_CONF. */
	char	**module_env;
	size_t	  nmodule_env;
};

#define SEAL_SESSIONS_DEFAULT	4
#define SEAL_SESSIONS_MAX	64
/*
 * The largest value the seal takes: requests travel as one
 * SOCK_SEQPACKET packet, which the kernel caps near the socket's send
 * buffer. KES values are about 100 bytes.
 */
#define SEAL_VALUE_MAX		(128u << 10)

/* seal_parse.c, parent: keystore.seal (ks: the keystore section); *conf
 * stays NULL when there is no seal. -1 after cfg_error(). */
int	seal_parse(struct cfg_parser *, const struct cfg_sect *ks,
	    void **conf);
void	seal_conf_free(void *);
/* Read a seal configuration from a file (the seal commands), the one
 * config reader's way; NULL with err. store_path: keystore.fs.path or
 * NULL when the store is another. */
struct seal_conf *seal_conf_load(const char *file, char **store_path,
	    char *err, size_t errlen);

/*
 * The agent's slice carries "bytes store settings, u8 sealed, seal
 * settings" (stores.c's ks_settings_put): put the seal's part (conf may
 * be NULL), and read both back (*seal NULL when not sealed).
 */
int	seal_settings_put(struct buf *, const struct seal_conf *);
int	seal_settings_get(struct buf *, struct seal_conf **);
int	seal_slice_split(struct buf *all, struct buf *store,
	    struct seal_conf **seal);
/* SHA-256 of the settings (NULL: none), for a reload to compare. */
void	seal_conf_digest(const struct seal_conf *, uint8_t out[32]);
/* Overwrite every copy of pin in [p, p + len). */
void	seal_wipe_pin(void *p, size_t len, const char *pin);

/* seal.c, agent: start the helper (as root, before the drop; user is the
 * server's); then, after ev_init, the layer around the store. Both die
 * with a message naming the failed step, except for a PIN the token
 * refuses when restarted (the agent replaces one): the seal then fails
 * every call rather than try the PIN again at each restart (§4.7). */
void	seal_start(const struct seal_conf *, const char *user, bool debug,
	    bool restarted);
const struct ks_backend *seal_wrap(const struct ks_backend *inner);

/* seal_helper.c: `keyward seal-helper`, started by seal_start only. */
int	seal_helper_main(int argc, char **argv);
/* seal_cmd.c: `keyward seal ...`. */
int	seal_cmd_main(int argc, char **argv);

#endif
