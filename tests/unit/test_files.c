/* The parent's resources: listener addresses, TLS files, directories. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/dirs.h"
#include "privsep/files.h"

static char dir[] = "/tmp/keyward-test-files.XXXXXX";

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	(void)tree_remove(dir);
}

TestSuite(files, .init = setup, .fini = teardown);

static int
bound_family(int fd, int *port)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ss.ss_family;
}

Test(files, listener_ipv4_and_ipv6)
{
	char	err[256];
	int	fd, port, v6only = -1;
	socklen_t len = sizeof(v6only);

	cr_assert_geq(fd = listener_open("127.0.0.1:0", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(bound_family(fd, &port), AF_INET);
	cr_assert_gt(port, 0);
	close(fd);

	cr_assert_geq(fd = listener_open("[::1]:0", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(bound_family(fd, &port), AF_INET6);
	close(fd);

	/* [::] takes IPv4 too, like Go's listener. */
	cr_assert_geq(fd = listener_open("[::]:0", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len),
	    0);
	cr_assert_eq(v6only, 0);
	close(fd);

	/* ":PORT" means every IPv4 address. */
	cr_assert_geq(fd = listener_open(":0", err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(bound_family(fd, &port), AF_INET);
	close(fd);
}

Test(files, listener_bad_addresses)
{
	static const char *bad[] = { "", "127.0.0.1", "127.0.0.1:",
	    "127.0.0.1:x", "127.0.0.1:70000", "127.0.0.1:-1", "localhost:7373",
	    "::1:7373", "[::1:7373", "[::1]", "[zz]:7373", "1.2.3.4.5:7373" };
	char	err[256];
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(listener_open(bad[i], err, sizeof(err)), -1,
		    "'%s' was accepted", bad[i]);
		cr_expect_not_null(strstr(err, "expected IP:PORT"),
		    "'%s': %s", bad[i], err);
	}
}

Test(files, listener_in_use)
{
	char	err[256], addr[64];
	int	fd, port;

	cr_assert_geq(fd = listener_open("127.0.0.1:0", err, sizeof(err)), 0);
	(void)bound_family(fd, &port);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	cr_assert_eq(listener_open(addr, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "Address already in use"), "%s", err);
	cr_assert_not_null(strstr(err, addr), "%s", err);
	close(fd);
}

static void
write_file(const char *name, const char *text)
{
	char	path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

Test(files, tls_files_from_file_and_dir)
{
	struct config		cf;
	struct tls_files	t;
	char			cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	char			err[256];

	memset(&cf, 0, sizeof(cf));
	write_file("c.pem", "CERT");
	write_file("k.pem", "KEY");
	cr_assert_eq(mkdir(strcat(strcpy(ca, dir), "/cas"), 0700), 0);
	write_file("cas/a.pem", "CA-A");
	write_file("cas/b.pem", "CA-B");
	write_file("cas/.hidden", "NOT-THIS");
	snprintf(cert, sizeof(cert), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	cf.tls.cert = cert;
	cf.tls.key = key;
	cf.tls.ca = ca;
	cr_assert_eq(tls_files_read(&cf, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.cert.len, 5);	/* "CERT" and a separating newline */
	cr_assert_eq(memcmp(t.key.data, "KEY\n", 4), 0);
	cr_assert_not_null(memmem(t.ca.data, t.ca.len, "CA-A", 4));
	cr_assert_not_null(memmem(t.ca.data, t.ca.len, "CA-B", 4));
	cr_assert_null(memmem(t.ca.data, t.ca.len, "NOT-THIS", 8));
	tls_files_free(&t);
}

Test(files, tls_files_errors_name_the_file)
{
	struct config		cf;
	struct tls_files	t;
	char			cert[PATH_MAX], err[256];

	memset(&cf, 0, sizeof(cf));
	snprintf(cert, sizeof(cert), "%s/missing.crt", dir);
	cf.tls.cert = cert;
	cf.tls.key = cert;
	cr_assert_eq(tls_files_read(&cf, &t, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "missing.crt"), "%s", err);
	cr_assert_not_null(strstr(err, "No such file"), "%s", err);
	/* A directory is not a certificate file. */
	cf.tls.cert = dir;
	cr_assert_eq(tls_files_read(&cf, &t, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
}

Test(files, dir_ensure_creates_and_keeps)
{
	char		path[PATH_MAX], err[256];
	struct stat	st;

	snprintf(path, sizeof(path), "%s/a/b/keys", dir);
	cr_assert_eq(dir_ensure(path, 0700, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700);
	/* An existing directory keeps its mode. */
	cr_assert_eq(chmod(path, 0750), 0);
	cr_assert_eq(dir_ensure(path, 0700, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0750);
	cr_assert_eq(dir_ensure("relative/path", 0700, (uid_t)-1, (gid_t)-1,
	    err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "not an absolute path"), "%s", err);
}
