/*
 * cairn-faultproxy — a loopback HTTP proxy that injects faults, for the
 * retry tests of the s3 plugin (tests/integration/s3_faults.sh).
 *
 *   cairn-faultproxy --upstream HOST:PORT [--listen PORT] [--port-file FILE]
 *                    [--log FILE] [--rules FILE] [--rule RULE]…
 *
 * It listens on 127.0.0.1 (PORT 0, the default: any free port, written to
 * --port-file), and serves each client connection as one request: the head
 * is read, the rules are applied, and the request is forwarded byte for byte
 * to the upstream server (a Host header is never rewritten, so a SigV4
 * signature stays valid; servers accept any Host for path-style requests),
 * except that its Connection header becomes "Connection: close". The
 * client (libcurl) then reconnects for its next request, so every request
 * passes through the rules.
 *
 * RULE (one per --rule, or one per line of --rules, '#' starts a comment):
 *
 *   METHOD REGEX WHICH ACTION
 *
 *   METHOD  GET, PUT, POST, DELETE, HEAD… or * for any
 *   REGEX   POSIX extended regular expression searched in the request
 *           target ("/bucket/key?partNumber=2&uploadId=…")
 *   WHICH   which of the requests matching METHOD and REGEX (counted from 1,
 *           per rule, over the proxy's life): "2,3", "1-4", "*" for all
 *   ACTION  500 | 503 | slowdown   answer that status (slowdown: 503 with
 *                                  S3's <Code>SlowDown</Code> body) without
 *                                  forwarding; the request body is read
 *           cut=K                  forward, then drop the connection after K
 *                                  bytes of the response body
 *           delay=MS               wait MS milliseconds, then forward
 *
 * The first rule whose WHICH selects the request wins. --log appends one
 * line per request: "<method> <target> <action|pass> active=<N>", N being
 * the number of requests in progress at that moment (this one included),
 * and "<method> <target> cut done" when a connection was dropped.
 *
 * Test tool only: one thread per connection, no TLS, loopback only.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES 64
#define MAX_HEAD 65536

enum action { ACT_STATUS, ACT_SLOWDOWN, ACT_CUT, ACT_DELAY };

struct rule {
	char method[16];
	regex_t re;
	char *which;  /* "2,3" "1-4" "*" */
	enum action act;
	long arg;     /* status, K, MS */
	char text[256];
	unsigned long count;
};

static struct rule rules[MAX_RULES];
static int n_rules;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;
static int active; /* requests being served now */
static char up_host[256];
static char up_port[16];

/* "cairn-faultproxy: <what> <arg>" and exit 2 */
static void die(const char *what, const char *arg)
{
	fprintf(stderr, "cairn-faultproxy: %s %s\n", what, arg);
	exit(2);
}

static int which_has(const char *which, unsigned long n)
{
	if (strcmp(which, "*") == 0)
		return 1;
	const char *p = which;
	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (n >= a && n <= b)
			return 1;
		p = *end == ',' ? end + 1 : end + strlen(end);
	}
	return 0;
}

static void add_rule(const char *line)
{
	char method[16], re[1024], which[256], act[64];
	if (sscanf(line, "%15s %1023s %255s %63s", method, re, which, act) != 4)
		die("bad rule (METHOD REGEX WHICH ACTION):", line);
	if (n_rules == MAX_RULES)
		die("too many rules, at most", "64");
	struct rule *r = &rules[n_rules];
	snprintf(r->method, sizeof(r->method), "%s", method);
	if (regcomp(&r->re, re, REG_EXTENDED | REG_NOSUB))
		die("bad regular expression:", re);
	r->which = strdup(which);
	snprintf(r->text, sizeof(r->text), "%s", line);
	if (!strcmp(act, "500") || !strcmp(act, "503") || !strcmp(act, "429")) {
		r->act = ACT_STATUS;
		r->arg = atol(act);
	} else if (!strcasecmp(act, "slowdown")) {
		r->act = ACT_SLOWDOWN;
		r->arg = 503;
	} else if (!strncmp(act, "cut=", 4)) {
		r->act = ACT_CUT;
		r->arg = atol(act + 4);
	} else if (!strncmp(act, "delay=", 6)) {
		r->act = ACT_DELAY;
		r->arg = atol(act + 6);
	} else {
		die("bad action (500 | 503 | 429 | slowdown | cut=K | delay=MS):", act);
	}
	n_rules++;
}

static void load_rules(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot read", path);
	char line[2048];
	while (fgets(line, sizeof(line), f)) {
		char *h = strchr(line, '#');
		if (h)
			*h = '\0';
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		size_t l = strlen(s);
		while (l > 0 && (s[l - 1] == '\n' || s[l - 1] == '\r' || s[l - 1] == ' '))
			s[--l] = '\0';
		if (*s)
			add_rule(s);
	}
	fclose(f);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int connect_upstream(void)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *a;
	if (getaddrinfo(up_host, up_port, &hints, &res))
		return -1;
	int fd = -1;
	for (a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* the value of header `name` in head (NUL-terminated), copied into out */
static int header_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *l = p + 2;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1;
			while (*v == ' ')
				v++;
			size_t n = strcspn(v, "\r\n");
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return 1;
		}
	}
	return 0;
}

/* the head with any Connection header replaced by "Connection: close" */
static size_t rewrite_head(const char *head, size_t hlen, char *out)
{
	size_t o = 0;
	const char *p = head, *end = head + hlen;
	while (p < end) {
		const char *eol = strstr(p, "\r\n");
		size_t l = (size_t)(eol - p) + 2;
		if (l == 2) { /* the blank line */
			o += (size_t)sprintf(out + o, "Connection: close\r\n\r\n");
			break;
		}
		if (!(p != head && strncasecmp(p, "connection:", 11) == 0)) {
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
	}
	return o;
}

static void log_line(const char *method, const char *target, const char *what, int n_active)
{
	if (!log_file)
		return;
	pthread_mutex_lock(&lock);
	if (n_active > 0)
		fprintf(log_file, "%s %s %s active=%d\n", method, target, what, n_active);
	else
		fprintf(log_file, "%s %s %s\n", method, target, what);
	fflush(log_file);
	pthread_mutex_unlock(&lock);
}

static void serve(int cfd)
{
	char *head = malloc(MAX_HEAD + 1);
	char *out = malloc(MAX_HEAD + 64);
	char buf[65536];
	size_t len = 0;
	int ufd = -1, counted = 0;
	if (!head || !out)
		goto done;
	/* the request head */
	char *hend = NULL;
	while (!hend) {
		if (len == MAX_HEAD)
			goto done;
		ssize_t r = recv(cfd, head + len, MAX_HEAD - len, 0);
		if (r <= 0)
			goto done;
		len += (size_t)r;
		head[len] = '\0';
		hend = strstr(head, "\r\n\r\n");
	}
	size_t hlen = (size_t)(hend - head) + 4;
	char method[16] = "", target[4096] = "";
	if (sscanf(head, "%15s %4095s", method, target) != 2)
		goto done;

	/* the rules */
	struct rule *hit = NULL;
	pthread_mutex_lock(&lock);
	int n_active = ++active;
	counted = 1;
	for (int i = 0; i < n_rules; i++) {
		struct rule *r = &rules[i];
		if ((strcmp(r->method, "*") == 0 || strcmp(r->method, method) == 0) &&
		    regexec(&r->re, target, 0, NULL, 0) == 0) {
			r->count++;
			if (!hit && which_has(r->which, r->count))
				hit = r;
		}
	}
	pthread_mutex_unlock(&lock);
	char what[300];
	snprintf(what, sizeof(what), "%s", hit ? hit->text : "pass");
	char *sp = strrchr(what, ' ');
	log_line(method, target, hit && sp ? sp + 1 : "pass", n_active);

	if (hit && (hit->act == ACT_STATUS || hit->act == ACT_SLOWDOWN)) {
		/* read the body, then answer without forwarding */
		char cl[32];
		unsigned long long want = header_value(head, "Content-Length", cl, sizeof(cl))
						  ? strtoull(cl, NULL, 10)
						  : 0;
		unsigned long long have = len - hlen;
		while (have < want) {
			ssize_t r = recv(cfd, buf, sizeof(buf), 0);
			if (r <= 0)
				break;
			have += (unsigned long long)r;
		}
		const char *code = hit->act == ACT_SLOWDOWN ? "SlowDown" : "InternalError";
		const char *msg = hit->act == ACT_SLOWDOWN ? "Please reduce your request rate."
							   : "Injected by cairn-faultproxy.";
		char body[512];
		int bl = snprintf(body, sizeof(body),
				  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
				  "<Message>%s</Message></Error>",
				  hit->arg == 429 ? "TooManyRequests" : code, msg);
		const char *reason = hit->arg == 500   ? "Internal Server Error"
				     : hit->arg == 429 ? "Too Many Requests"
						       : "Service Unavailable";
		char resp[1024];
		int rl = snprintf(resp, sizeof(resp),
				  "HTTP/1.1 %ld %s\r\nContent-Type: application/xml\r\n"
				  "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
				  hit->arg, reason, strcmp(method, "HEAD") ? bl : 0,
				  strcmp(method, "HEAD") ? body : "");
		write_all(cfd, resp, (size_t)rl);
		goto done;
	}
	if (hit && hit->act == ACT_DELAY) {
		struct timespec ts = {.tv_sec = hit->arg / 1000,
				      .tv_nsec = (hit->arg % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}

	/* forward: the rewritten head, what came after it, then relay both ways */
	ufd = connect_upstream();
	if (ufd < 0) {
		static const char bad[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
					  "Connection: close\r\n\r\n";
		write_all(cfd, bad, sizeof(bad) - 1);
		goto done;
	}
	size_t ol = rewrite_head(head, hlen, out);
	if (write_all(ufd, out, ol) || write_all(ufd, head + hlen, len - hlen))
		goto done;
	long cut = hit && hit->act == ACT_CUT ? hit->arg : -1;
	int in_body = 0;
	unsigned match = 0; /* how much of "\r\n\r\n" was seen at the end of the stream */
	long body_sent = 0;
	struct pollfd pf[2] = {{.fd = cfd, .events = POLLIN}, {.fd = ufd, .events = POLLIN}};
	int client_open = 1;
	for (;;) {
		pf[0].events = client_open ? POLLIN : 0;
		if (poll(pf, 2, 300000) <= 0)
			break;
		if (client_open && (pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = recv(cfd, buf, sizeof(buf), 0);
			if (r <= 0) {
				client_open = 0;
				shutdown(ufd, SHUT_WR);
			} else if (write_all(ufd, buf, (size_t)r)) {
				break;
			}
		}
		if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(ufd, buf, sizeof(buf), 0);
			if (r <= 0)
				break;
			size_t n = (size_t)r, pass = n;
			if (cut >= 0) {
				size_t i = 0;
				while (!in_body && i < n) {
					static const char crlf2[] = "\r\n\r\n";
					match = buf[i] == crlf2[match] ? match + 1 : (buf[i] == '\r' ? 1 : 0);
					i++;
					if (match == 4)
						in_body = 1;
				}
				if (in_body) {
					long room = cut - body_sent;
					size_t body_here = n - i;
					if ((long)body_here > room) {
						pass = i + (size_t)room;
						body_sent = cut;
					} else {
						body_sent += (long)body_here;
					}
				}
			}
			if (write_all(cfd, buf, pass))
				break;
			if (cut >= 0 && in_body && body_sent >= cut) {
				log_line(method, target, "cut done", 0);
				break; /* drop the connection mid-body */
			}
		}
	}
done:
	if (counted) {
		pthread_mutex_lock(&lock);
		active--;
		pthread_mutex_unlock(&lock);
	}
	if (ufd >= 0)
		close(ufd);
	close(cfd);
	free(head);
	free(out);
}

static void *conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	serve(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *upstream = NULL, *port_file = NULL, *log_path = NULL;
	int listen_port = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--upstream") && v)
			upstream = argv[++i];
		else if (!strcmp(a, "--listen") && v)
			listen_port = atoi(argv[++i]);
		else if (!strcmp(a, "--port-file") && v)
			port_file = argv[++i];
		else if (!strcmp(a, "--log") && v)
			log_path = argv[++i];
		else if (!strcmp(a, "--rule") && v)
			add_rule(argv[++i]);
		else if (!strcmp(a, "--rules") && v)
			load_rules(argv[++i]);
		else
			die("usage: cairn-faultproxy --upstream HOST:PORT [--listen PORT] "
			    "[--port-file FILE] [--log FILE] [--rules FILE] [--rule RULE]…; bad argument:",
			    a);
	}
	if (!upstream)
		die("--upstream HOST:PORT is required", "");
	const char *colon = strrchr(upstream, ':');
	if (!colon || (size_t)(colon - upstream) >= sizeof(up_host))
		die("bad upstream:", upstream);
	snprintf(up_host, sizeof(up_host), "%.*s", (int)(colon - upstream), upstream);
	snprintf(up_port, sizeof(up_port), "%s", colon + 1);
	if (log_path && !(log_file = fopen(log_path, "a")))
		die("cannot write", log_path);
	signal(SIGPIPE, SIG_IGN);

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64))
		die("cannot listen on 127.0.0.1:", strerror(errno));
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f)
			die("cannot write", port_file);
		fprintf(f, "%d\n", ntohs(sa.sin_port));
		fclose(f);
		rename(tmp, port_file); /* appears complete or not at all */
	} else {
		printf("%d\n", ntohs(sa.sin_port));
		fflush(stdout);
	}
	for (;;) {
		int cfd = accept(lfd, NULL, NULL);
		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			die("accept:", strerror(errno));
		}
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, conn_thread, (void *)(intptr_t)cfd))
			close(cfd);
		pthread_attr_destroy(&at);
	}
}
