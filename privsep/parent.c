/*
 * The parent: reads the configuration, opens what the children need (the
 * listener, TLS files, directories), fork+execs every child with its role
 * on fixed descriptors, hands each its slice of the configuration, wires
 * the children to each other, and supervises them from the event loop.
 * It holds no master key and answers no client.
 *
 * Peers (one control channel per child) and the messages accepted:
 *   any child   MSG_HELLO (once, first), MSG_READY (once), MSG_RELOAD_DONE,
 *               MSG_LOG_EVENT, MSG_LOG_SUBSCRIBE
 *   crypto      MSG_CRYPTO_STATE (start-up done or failed, key store
 *               reachable or not)
 *
 * Start-up: the listener is open from the start, but no worker is wired
 * to the crypto process, and no worker accepts, before the crypto process
 * says the key store answered and every key of `keys:` exists; then
 * "serving on" is logged and systemd hears READY=1 (notify.c).
 *
 * Signals arrive through a signalfd, so nothing runs in signal context:
 *   SIGCHLD          reap, log the cause, restart with backoff
 *   SIGTERM, SIGINT  stop accepting, let workers finish, exit 0
 *   SIGHUP           reload; on any error keep the running configuration
 */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/dirs.h"
#include "common/ev.h"
#include "common/landlock.h"
#include "common/log.h"
#include "common/metrics_region.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/policy.h"
#include "common/privdrop.h"
#include "common/proc.h"
#include "common/slice.h"
#include "common/tls.h"
#include "common/xmalloc.h"
#include "keystore-agent/stores.h"
#include "privsep/dev.h"
#include "privsep/devpki.h"
#include "privsep/files.h"
#include "privsep/notify.h"
#include "privsep/parent.h"
#include "privsep/parent_int.h"
#include "privsep/server_flags.h"

const struct peer_dispatch child_dispatch[] = {
	{ MSG_HELLO,		child_hello },
	{ MSG_READY,		child_ready },
	{ MSG_RELOAD_DONE,	child_reload_done },
	{ MSG_CRYPTO_STATE,	child_crypto_state },
	{ MSG_LOG_EVENT,	child_log_event },
	{ MSG_LOG_SUBSCRIBE,	child_log_subscribe },
	{ 0, NULL }
};


struct parent_state ps;

static uint64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *
child_name(const struct child *c)
{
	static char name[32];

	if (c->role == ROLE_WORKER ||
	    (c->role == ROLE_CRYPTO && ps.ncrypto > 1))
		snprintf(name, sizeof(name), "%s %u", role_name(c->role),
		    c->index);
	else
		snprintf(name, sizeof(name), "%s", role_name(c->role));
	return name;
}

/* --- signals and main ------------------------------------------------- */

static void
signal_event(struct ev_io *io, uint32_t events)
{
	struct signalfd_siginfo	si;
	ssize_t			n;

	while ((n = read(ps.sigfd, &si, sizeof(si))) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			ps_reap();
			break;
		case SIGTERM:
		case SIGINT:
			ps_begin_stop(si.ssi_signo);
			break;
		case SIGHUP:
			if (ps.stopping)
				break;
			/* Before serving, READY=1 is not ours to send. */
			if (ps.serving)
				notify_reloading();
			ps_reload();
			if (ps.serving) {
				notify_send("READY=1");
				serving_status();
			}
			break;
		}
	}
}

void
children_foreach(void (*fn)(struct child *))
{
	unsigned int i;

	fn(&ps.agent);
	for (i = 0; i < ps.ncrypto; i++)
		fn(&ps.crypto[i]);
	for (i = 0; i < ps.nworkers; i++)
		fn(&ps.workers[i]);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: keyward server --config FILE [--addr IP:PORT]\n"
	    "       keyward server --dev [--addr IP:PORT]\n"
	    "\n"
	    "  --config FILE   KES-compatible configuration: YAML, or the TOML\n"
	    "                  of KES v0.1 - v0.7 (any KES layout is read)\n"
	    "  --addr IP:PORT  listen address (overrides `address`)\n"
	    "  --dev           throw-away CA, certificates, admin API key and\n"
	    "                  key store, for trying keyward out\n"
	    "  --print-config  print the configuration in the current layout\n"
	    "                  (an old KES one translated) and exit\n"
	    "  --strict-env    a ${VAR} whose variable is not set is an error\n"
	    "                  in a layout of KES before v0.22 too (which\n"
	    "                  read it as empty, as keyward does by default)\n"
	    "\n"
	    "KES's older flags are accepted and override the file as they did:\n"
	    "--root ID (admin.identity), --key/--tls-key FILE, --cert/--tls-cert\n"
	    "FILE, --auth on|off and --mtls-auth verify|ignore (tls.auth);\n"
	    "--mlock and -q/--quiet change nothing. -flag, --flag and\n"
	    "--flag=value are all read.\n"
	    "\n"
	    "Environment: KEYWARD_SANDBOX_DEBUG=1 makes a blocked system call\n"
	    "log its name instead of killing the process (debugging only).\n"
	    "\n"
	    "Example: keyward server --config /etc/keyward/config.yml\n");
	exit(2);
}

static void
prepare_dirs(void)
{
	struct passwd	*pw;
	char		 err[256];

	if (!ps.root)
		return;
	if ((pw = getpwnam(ps.cf->server.user)) == NULL)
		fatalx("server.user '%s' does not exist; create it with: "
		    "useradd --system --no-create-home --shell "
		    "/usr/sbin/nologin %s", ps.cf->server.user,
		    ps.cf->server.user);
	if (pw->pw_uid == 0)
		fatalx("server.user '%s' is root; the children must run "
		    "unprivileged", ps.cf->server.user);
	ps.child_uid = pw->pw_uid;
	ps.child_gid = pw->pw_gid;
	/*
	 * keyward.service gives no CAP_SYS_CHROOT: Landlock is then the
	 * children's file system fence (common/proc_run.c), and a kernel
	 * without it cannot run them.
	 */
	if (!privdrop_can_chroot()) {
		if (landlock_abi() == 0)
			fatalx("no CAP_SYS_CHROOT to chroot the workers and the "
			    "crypto process, and no Landlock in this kernel to "
			    "fence them instead; give the service CAP_SYS_CHROOT "
			    "and the chroot system call (a drop-in: "
			    "CapabilityBoundingSet=CAP_SYS_CHROOT and "
			    "SystemCallFilter=chroot)");
		log_info("no CAP_SYS_CHROOT: the workers and the crypto "
		    "process are fenced from the file system by Landlock "
		    "(ABI %d) instead of the chroot %s", landlock_abi(),
		    ps.cf->server.chroot);
		return;
	}
	if (dir_ensure(ps.cf->server.chroot, 0755, 0, 0, err,
	    sizeof(err)) == -1)
		fatalx("server.chroot: %s", err);
}

int
parent_main(int argc, char **argv)
{
	char		 err[CONFIG_ERRLEN];
	const char	*v;
	sigset_t	 mask;
	unsigned int	 i;
	ssize_t		 n;
	bool		 dev;
	int		 r;

	log_init("parent", LOG_LVL_INFO);
	if ((r = server_flags_parse(argc, argv, &ps.flags, err,
	    sizeof(err))) == 1)
		usage();
	if (r == -1) {
		fprintf(stderr, "keyward server: %s\n", err);
		usage();
	}
	dev = ps.flags.dev;
	config_set_strict_env(ps.flags.strict_env);
	if (ps.flags.print_config) {
		if (config_print(ps.flags.config, stdout, err, sizeof(err)) ==
		    -1)
			fatalx("%s", err);
		exit(0);
	}
	notify_init();
	notify_status("starting", NULL);

	ps.root = geteuid() == 0;
	ps.started_ns = realtime_ns();
	ps.listen_fd = -1;
	ps.foreground = isatty(STDERR_FILENO);
	v = getenv("KEYWARD_SANDBOX_DEBUG");
	ps.sandbox_debug = v != NULL && strcmp(v, "1") == 0;
	if (ps.sandbox_debug)
		log_warnx("KEYWARD_SANDBOX_DEBUG=1: blocked system calls are "
		    "logged instead of killing the process; privileges are "
		    "still dropped");
	if ((n = readlink("/proc/self/exe", ps.exe, sizeof(ps.exe) - 1)) < 0)
		fatal("readlink /proc/self/exe");
	ps.exe[n] = '\0';

	if (dev) {
		ps.cf = dev_setup(ps.flags.addr, ps.root, &ps.dev);
		ps.is_dev = true;
	} else {
		if (config_load(ps.flags.config, &ps.cf, err, sizeof(err)) ==
		    -1)
			fatalx("%s", err);
		server_flags_apply(&ps.flags, ps.cf, true);
	}
	for (i = 0; i < ps.cf->nwarnings; i++)
		log_warnx("%s", ps.cf->warnings[i]);
	log_setlevel(ps.cf->log.error);
	if (!ps.cf->server.mlock)
		log_warnx("server.mlock is off: key material may be swapped "
		    "to disk");
	if (!ks_served(ps.cf->keystore.store))
		fatalx("this version supports only these key stores: %s",
		    ks_supported());
	if (!ps.root)
		log_info("not started as root: children keep this user and "
		    "are not chrooted (the setcap deployment)");

	if (tls_files_read(ps.cf, &ps.tls, err, sizeof(err)) == -1 ||
	    check_tls(ps.cf, &ps.tls, err, sizeof(err)) == -1)
		fatalx("%s", err);
	prepare_dirs();
	if ((ps.listen_fd = listener_open(ps.cf->address, err,
	    sizeof(err))) == -1)
		fatalx("%s", err);

	ps.nworkers = ps.cf->server.workers;
	if (ps.nworkers == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		ps.nworkers = ncpu > 0 ? (unsigned int)ncpu : 1;
	}
	if (ps.nworkers > MAX_WORKERS)
		ps.nworkers = MAX_WORKERS;
	ps.workers = xcalloc(ps.nworkers, sizeof(*ps.workers));
	ps.ncrypto = ps.cf->server.crypto;
	if (ps.ncrypto == 0)
		ps.ncrypto = 1 + (ps.nworkers - 1) / CRYPTO_AUTO_WORKERS;
	if (ps.ncrypto > CRYPTO_MAX)
		ps.ncrypto = CRYPTO_MAX;
	ps.crypto = xcalloc(ps.ncrypto, sizeof(*ps.crypto));
	/* The workers' counters outlive any one worker
	 * (common/metrics_region.h). */
	if ((ps.metrics_fd = memfd_create("keyward-metrics", MFD_CLOEXEC)) ==
	    -1 || ftruncate(ps.metrics_fd, (off_t)metrics_region_size()) == -1)
		fatal("metrics region");
	log_set_hook(parent_log_hook);
	for (i = 0; i < ps.ncrypto; i++) {
		ps.crypto[i].role = ROLE_CRYPTO;
		ps.crypto[i].index = i;
	}
	ps.agent.role = ROLE_AGENT;
	for (i = 0; i < ps.nworkers; i++) {
		ps.workers[i].role = ROLE_WORKER;
		ps.workers[i].index = i;
	}

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	if ((ps.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	ev_init();
	if (ev_add(&ps.sigio, ps.sigfd, EPOLLIN, signal_event, NULL) == -1)
		fatal("epoll_ctl");

	if (dev)
		dev_print(ps.cf, &ps.dev);
	children_foreach(child_spawn);
	for (;;)
		ev_once(-1);
}
