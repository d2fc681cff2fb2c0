/*
 * mkkeys DIR N [PREFIX]: write N keys PREFIX0 .. PREFIX(N-1) (default
 * prefix "bench-") into a filesystem key store directory, in the stored
 * format keyward and KES read (common/kes_key.h: base64 of the protobuf
 * KeyVersion), each 0600 and owned like the directory, as the agent
 * expects. Random AES-256 and HMAC keys; no fsync, since a benchmark's
 * store is thrown away.
 */
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/buf.h"
#include "common/kes_key.h"

#define ADMIN	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

int
main(int argc, char **argv)
{
	struct kes_key	 k;
	struct stat	 st;
	struct buf	 v;
	const char	*prefix = argc > 3 ? argv[3] : "bench-";
	char		 name[256];
	unsigned long	 n, i;
	int		 dfd, fd;

	if (argc < 3 || argc > 4 || (n = strtoul(argv[2], NULL, 10)) == 0)
		errx(2, "usage: mkkeys DIR N [PREFIX]");
	if ((dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		err(1, "%s", argv[1]);
	if (fstat(dfd, &st) == -1)
		err(1, "%s", argv[1]);
	memset(&k, 0, sizeof(k));
	k.type = KES_KEY_AES256;
	k.has_hmac = true;
	k.created_sec = (int64_t)time(NULL);
	snprintf(k.created_by, sizeof(k.created_by), "%s", ADMIN);
	buf_init(&v, 4096);
	for (i = 0; i < n; i++) {
		if (RAND_bytes(k.key, sizeof(k.key)) != 1 ||
		    RAND_bytes(k.hmac, sizeof(k.hmac)) != 1)
			errx(1, "RAND_bytes");
		buf_reset(&v);
		if (kes_key_encode(&k, &v) == -1)
			errx(1, "kes_key_encode");
		if (snprintf(name, sizeof(name), "%s%lu", prefix, i) >=
		    (int)sizeof(name))
			errx(2, "prefix too long");
		if ((fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC |
		    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
			err(1, "%s/%s", argv[1], name);
		if (write(fd, buf_ptr(&v), buf_avail(&v)) !=
		    (ssize_t)buf_avail(&v))
			err(1, "%s/%s", argv[1], name);
		if (fchown(fd, st.st_uid, st.st_gid) == -1)
			err(1, "%s/%s", argv[1], name);
		close(fd);
	}
	buf_release(&v);
	kes_key_wipe(&k);
	close(dfd);
	return 0;
}
