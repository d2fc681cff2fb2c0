/* Starting and steering the Python test doubles (pydouble.h). */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/pydouble.h"
#include "tests/lib/testsrv.h"

#define ARGS_MAX	64
#define START_MS	15000

static int
read_int(const char *path)
{
	FILE	*f;
	int	 v = -1;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

int
pydouble_start(struct pydouble *d, const char *script,
    const char *const *args, const char *portfile, const char *cportfile,
    char *why, size_t whylen)
{
	char		 pf[PATH_MAX + 64], cf[PATH_MAX + 64], path[PATH_MAX];
	const char	*argv[ARGS_MAX];
	size_t		 n = 0;
	uint64_t	 t0;
	pid_t		 pid;

	if (snprintf(pf, sizeof(pf), "%s/%s", d->dir, portfile) >=
	    (int)sizeof(pf) || snprintf(cf, sizeof(cf), "%s/%s", d->dir,
	    cportfile) >= (int)sizeof(cf)) {
		snprintf(why, whylen, "path too long");
		return -1;
	}
	if (realpath(script, path) == NULL) {
		snprintf(why, whylen, "%s: %s", script, strerror(errno));
		return -1;
	}
	unlink(pf);
	unlink(cf);
	argv[n++] = "python3";
	argv[n++] = path;
	while (args != NULL && *args != NULL && n < ARGS_MAX - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (chdir(d->dir) == -1)
			_exit(127);
		execvp("python3", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	d->pid = pid;
	for (t0 = tsrv_now_ms(); tsrv_now_ms() - t0 < START_MS;
	    tsrv_sleep_ms(50))
		if ((d->port = read_int(pf)) > 0 &&
		    (d->cport = read_int(cf)) > 0)
			return 0;
	snprintf(why, whylen, "%s did not start within %d s", script,
	    START_MS / 1000);
	return -1;
}

void
pydouble_stop(struct pydouble *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
}

void
pydouble_remove(struct pydouble *d)
{
	char cmd[PATH_MAX + 32];

	if (d->dir[0] != '\0' && getenv("KEYWARD_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "%s failed\n", cmd);
	}
}

int
pydouble_ctl(const struct pydouble *d, const char *method, const char *path,
    const char *body, char *out, size_t outlen)
{
	struct sockaddr_in	 sa = { .sin_family = AF_INET };
	char			 req[2048], *p;
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd, code = -1;

	sa.sin_port = htons((uint16_t)d->cport);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (body == NULL)
		body = "";
	if (snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\nContent-Length: %zu\r\n\r\n%s", method,
	    path, strlen(body), body) >= (int)sizeof(req))
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	while (got + 1 < outlen && (n = read(fd, out + got,
	    outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	if (sscanf(out, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	if ((p = strstr(out, "\r\n\r\n")) != NULL)
		memmove(out, p + 4, strlen(p + 4) + 1);
	return code;
}
