/*
 * plugin_probe.c — see plugin_probe.h.
 *
 * fork() without exec: the child already holds the loader and the host, so
 * the check it runs is exactly the one a command would run, and no helper
 * binary has to be found at run time. The child touches nothing the parent
 * owns: it writes one answer to its pipe and _exit()s, so neither our
 * atexit handlers nor stdio buffers inherited from the parent run twice
 * (stdio is flushed before each fork in case the plugin itself calls
 * exit()). Its stdout is pointed at stderr, so a plugin that prints cannot
 * corrupt `plugins list --output json`.
 *
 * The answer is untrusted: plugin code ran in that process and may have
 * scribbled on the pipe. It is bounded, parsed strictly, and its strings are
 * reduced to printable ASCII before anything shows them.
 */
#define _POSIX_C_SOURCE 200809L
#include "plugin_probe.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "plugin_host.h"
#include "plugin_note.h"

#define ANSWER_MAX (64 * 1024)
#define FIELD_MAX 1024
#define MAX_SCHEMES 64

static volatile sig_atomic_t in_probe_child;

/*
 * A plugin that calls exit() in the child runs LeakSanitizer's exit check,
 * which would report the parent's live allocations as leaks and turn "exit
 * status 3" into LSan's. The runtime asks this hook before checking.
 */
#if defined(__SANITIZE_ADDRESS__)
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return in_probe_child; }
#endif

/* ---- the child --------------------------------------------------------- */

static struct {
	char buf[ANSWER_MAX];
	size_t len;
} answer;

static void put(const char *s)
{
	size_t n = strnlen(s, FIELD_MAX - 1);
	if (answer.len + n + 1 > sizeof(answer.buf))
		return; /* the parent sees no "end" and reports a malformed answer */
	memcpy(answer.buf + answer.len, s, n);
	answer.buf[answer.len + n] = '\0';
	answer.len += n + 1;
}

static void putu(unsigned v)
{
	char num[16];
	snprintf(num, sizeof(num), "%u", v);
	put(num);
}

static void child(const char *path, int wfd) __attribute__((noreturn));

static void child(const char *path, int wfd)
{
	in_probe_child = 1;
	/* die of the real signal, whatever handlers the core or a sanitizer set */
	static const int sigs[] = {SIGINT, SIGTERM, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core); /* a crash is reported, not dumped into the cwd */
	dup2(STDERR_FILENO, STDOUT_FILENO);
	/* should the parent die first, a hanging plugin still goes away */
	alarm(CORE_PROBE_TIMEOUT_S + 5);

	struct core_plugin p;
	if (core_plugin_load(path, &p) == CAIRN_OK) {
		const struct cairn_plugin_info *info = p.info;
		put("ok");
		put(info->name);
		put(info->version);
		put(info->description ? info->description : "");
		putu(info->kind);
		putu(info->abi_major);
		putu(info->abi_minor);
		for (size_t i = 0; info->schemes[i] && i < MAX_SCHEMES; i++)
			put(info->schemes[i]);
	} else {
		put("refused");
		put(p.refusal ? p.refusal : "refused");
	}
	put("end");
	for (size_t done = 0; done < answer.len;) {
		ssize_t w = write(wfd, answer.buf + done, answer.len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(1);
		done += (size_t)w;
	}
	_exit(0);
}

/* ---- the parent -------------------------------------------------------- */

struct probe {
	struct core_plugin *p;
	pid_t pid;       /* > 0 while running */
	int fd;          /* read end; -1 once at EOF */
	char *buf;
	size_t len;
	int overflow;
	double deadline; /* CLOCK_MONOTONIC seconds */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Printable ASCII only: these strings came from a process we do not trust. */
static char *clean_dup(const char *s)
{
	char *d = strdup(s);
	for (char *c = d; c && *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	return d;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	if (!*s || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* 0 with meta or refusal set, -1 for an answer that does not parse. */
static int parse_answer(struct probe *pr)
{
	const char *tok[8 + MAX_SCHEMES + 1];
	size_t nt = 0;
	if (pr->overflow || pr->len == 0 || pr->buf[pr->len - 1] != '\0')
		return -1;
	for (size_t at = 0; at < pr->len; at += strlen(pr->buf + at) + 1) {
		if (nt == sizeof(tok) / sizeof(tok[0]))
			return -1;
		tok[nt++] = pr->buf + at;
	}
	if (nt < 2 || strcmp(tok[nt - 1], "end") != 0)
		return -1;
	if (strcmp(tok[0], "refused") == 0 && nt == 3) {
		char *why = clean_dup(tok[1]);
		core_plugin_set_refusal(pr->p, "%s", why ? why : "refused");
		free(why);
		return 0;
	}
	struct core_plugin_meta m;
	memset(&m, 0, sizeof(m));
	if (strcmp(tok[0], "ok") != 0 || nt < 9 || !*tok[1] || parse_uint(tok[4], 99, &m.kind) ||
	    parse_uint(tok[5], 65535, &m.abi_major) || parse_uint(tok[6], 65535, &m.abi_minor) ||
	    (m.kind != CAIRN_PLUGIN_KIND_SOURCE && m.kind != CAIRN_PLUGIN_KIND_STORAGE))
		return -1;
	size_t ns = nt - 8;
	m.name = clean_dup(tok[1]);
	m.version = clean_dup(tok[2]);
	m.description = *tok[3] ? clean_dup(tok[3]) : NULL;
	m.schemes = calloc(ns + 1, sizeof(*m.schemes));
	int nomem = !m.name || !m.version || (*tok[3] && !m.description) || !m.schemes;
	for (size_t i = 0; !nomem && i < ns; i++)
		nomem = !(m.schemes[i] = clean_dup(tok[7 + i]));
	if (nomem) {
		core_plugin_meta_free(&m);
		core_plugin_set_refusal(pr->p, "out of memory while probing");
		return 0;
	}
	char why[256];
	if (pr->p->has_note &&
	    core_plugin_note_mismatch(&pr->p->note, m.name, m.kind, (const char *const *)m.schemes,
				      why, sizeof(why))) {
		core_plugin_meta_free(&m);
		core_plugin_set_refusal(pr->p, "its plugin note does not match its info: %s", why);
		return 0;
	}
	core_plugin_meta_free(&pr->p->meta);
	pr->p->meta = m;
	pr->p->known = 1;
	return 0;
}

static void finish(struct probe *pr, int status)
{
	if (pr->fd >= 0)
		close(pr->fd);
	pr->fd = -1;
	pr->pid = 0;
	/* a crash wins over whatever was sent before it; an answer over a status */
	if (WIFSIGNALED(status)) {
		core_plugin_set_refusal(pr->p, "crashed (signal %d)", WTERMSIG(status));
		pr->p->crashed = 1;
	} else if (parse_answer(pr) != 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		core_plugin_set_refusal(pr->p, "exited (status %d)", WEXITSTATUS(status));
		pr->p->crashed = 1;
	}
	else if (!pr->p->known && !pr->p->refusal)
		core_plugin_set_refusal(pr->p, pr->len ? "sent a malformed answer"
					   : "exited (status 0) without answering");
	free(pr->buf);
	pr->buf = NULL;
}

static void stop(struct probe *pr, const char *why)
{
	kill(pr->pid, SIGKILL);
	while (waitpid(pr->pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (pr->fd >= 0)
		close(pr->fd);
	pr->fd = -1;
	pr->pid = 0;
	free(pr->buf);
	pr->buf = NULL;
	core_plugin_set_refusal(pr->p, "%s", why);
}

static int start(struct probe *pr, const struct probe *all, size_t n)
{
	int fds[2];
	pr->buf = malloc(ANSWER_MAX);
	if (!pr->buf || pipe(fds) != 0) {
		core_plugin_set_refusal(pr->p, "unable to probe: %s", pr->buf ? strerror(errno) : "out of memory");
		free(pr->buf);
		pr->buf = NULL;
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		core_plugin_set_refusal(pr->p, "unable to probe: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(pr->buf);
		pr->buf = NULL;
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		for (size_t i = 0; i < n; i++) /* the other probes' pipes are not ours */
			if (all[i].pid > 0 && all[i].fd >= 0)
				close(all[i].fd);
		child(pr->p->path, fds[1]);
	}
	close(fds[1]);
	pr->pid = pid;
	pr->fd = fds[0];
	pr->len = 0;
	pr->overflow = 0;
	pr->deadline = now_s() + CORE_PROBE_TIMEOUT_S;
	return 0;
}

static void drain(struct probe *pr)
{
	char tmp[4096];
	ssize_t r = read(pr->fd, tmp, sizeof(tmp));
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		close(pr->fd);
		pr->fd = -1;
		return;
	}
	if ((size_t)r > ANSWER_MAX - pr->len) {
		pr->overflow = 1; /* keep reading to EOF, keep nothing */
		return;
	}
	memcpy(pr->buf + pr->len, tmp, (size_t)r);
	pr->len += (size_t)r;
}

void core_plugin_probe(struct core_plugin *const *v, size_t n)
{
	if (n == 0)
		return;
	struct probe *pr = calloc(n, sizeof(*pr));
	if (!pr) {
		for (size_t i = 0; i < n; i++)
			core_plugin_set_refusal(v[i], "out of memory while probing");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		pr[i].p = v[i];
		pr[i].fd = -1;
	}
	size_t next = 0, running = 0;
	for (;;) {
		while (running < CORE_PROBE_PARALLEL && next < n)
			if (start(&pr[next++], pr, n) == 0)
				running++;
		if (running == 0)
			break;
		struct pollfd fds[CORE_PROBE_PARALLEL];
		struct probe *owner[CORE_PROBE_PARALLEL];
		nfds_t nf = 0;
		double wake = now_s() + CORE_PROBE_TIMEOUT_S;
		int reaping = 0;
		for (size_t i = 0; i < next; i++) {
			if (pr[i].pid <= 0)
				continue;
			if (pr[i].deadline < wake)
				wake = pr[i].deadline;
			if (pr[i].fd < 0) {
				reaping = 1; /* pipe closed: the exit status is near */
				continue;
			}
			fds[nf].fd = pr[i].fd;
			fds[nf].events = POLLIN;
			owner[nf++] = &pr[i];
		}
		double wait_ms = (wake - now_s()) * 1000.0 + 1.0;
		int ms = wait_ms < 0 ? 0 : (int)wait_ms;
		if (reaping && ms > 10)
			ms = 10;
		if (poll(fds, nf, ms) > 0)
			for (nfds_t i = 0; i < nf; i++)
				if (fds[i].revents)
					drain(owner[i]);
		/* poll's EINTR is SIGINT/SIGTERM or a child: both handled below */
		double t = now_s();
		for (size_t i = 0; i < next; i++) {
			if (pr[i].pid <= 0)
				continue;
			int status;
			if (core_cancelled()) {
				stop(&pr[i], "cancelled");
			} else if (pr[i].fd < 0 && waitpid(pr[i].pid, &status, WNOHANG) == pr[i].pid) {
				finish(&pr[i], status);
			} else if (t >= pr[i].deadline) {
				char why[64];
				snprintf(why, sizeof(why), "no answer in %d s", CORE_PROBE_TIMEOUT_S);
				stop(&pr[i], why);
				pr[i].p->crashed = 1;
			} else {
				continue;
			}
			running--;
		}
		if (core_cancelled())
			for (; next < n; next++)
				core_plugin_set_refusal(pr[next].p, "cancelled");
	}
	free(pr);
}
