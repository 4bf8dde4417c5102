/*
 * pipe.c — see pipe.h.
 *
 * A ring of CORE_PIPE_SLOTS buffers under one mutex and one condition
 * variable (both sides wait on it: the writer for an entry, the caller for
 * a free slot). Buffers are swapped, never copied: an entry is a few MiB.
 * The error slot is per thread (error.c), so the writer keeps its first
 * failure's status and message here and the caller re-records them in its
 * own slot when it next puts or finishes.
 */
#define _POSIX_C_SOURCE 200809L
#include "pipe.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/status.h"
#include "error.h"

struct slot {
	char name[128];
	struct core_buf data;
};

struct core_pipe {
	struct core_archive_writer *aw;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot q[CORE_PIPE_SLOTS];
	size_t head, count;
	int closing;      /* no more entries: write what is queued, then stop */
	int discard;      /* stop now, drop what is queued */
	int joined;
	int rc;           /* the writer's first failure */
	char msg[1024];
};

static void *writer_main(void *ud)
{
	struct core_pipe *p = ud;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->count && !p->closing && !p->discard)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->discard || !p->count)
			break;
		struct slot *s = &p->q[p->head];
		int skip = p->rc != 0;
		pthread_mutex_unlock(&p->mu);
		/* the slot is the writer's until count drops: the caller fills others */
		int rc = skip ? CAIRN_OK : core_archive_put(p->aw, s->name, s->data.data, s->data.len);
		pthread_mutex_lock(&p->mu);
		if (rc && !p->rc) {
			p->rc = rc;
			snprintf(p->msg, sizeof(p->msg), "%s", core_error_message());
		}
		core_buf_reset(&s->data);
		p->head = (p->head + 1) % CORE_PIPE_SLOTS;
		p->count--;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int core_pipe_start(struct core_archive_writer *aw, struct core_pipe **out)
{
	*out = NULL;
	struct core_pipe *p = calloc(1, sizeof(*p));
	if (!p)
		return CAIRN_E_NOMEM;
	p->aw = aw;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	int err = pthread_create(&p->thread, NULL, writer_main, p);
	if (err) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return core_error_set(CAIRN_E_IO, "cannot start the archive writer thread: %s",
				      strerror(err));
	}
	*out = p;
	return CAIRN_OK;
}

/* The writer's failure, recorded in the calling thread's slot. Lock held. */
static int failure(struct core_pipe *p)
{
	return core_error_set(p->rc, "%s", p->msg);
}

int core_pipe_put(struct core_pipe *p, const char *name, struct core_buf *data)
{
	pthread_mutex_lock(&p->mu);
	while (p->count == CORE_PIPE_SLOTS && !p->rc)
		pthread_cond_wait(&p->cv, &p->mu);
	int rc = CAIRN_OK;
	if (p->rc) {
		rc = failure(p);
	} else {
		struct slot *s = &p->q[(p->head + p->count) % CORE_PIPE_SLOTS];
		snprintf(s->name, sizeof(s->name), "%s", name);
		struct core_buf t = s->data; /* empty, maybe with memory to reuse */
		s->data = *data;
		*data = t;
		p->count++;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static void stop(struct core_pipe *p, int discard)
{
	if (p->joined)
		return;
	pthread_mutex_lock(&p->mu);
	p->closing = 1;
	p->discard = discard;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	p->joined = 1;
}

int core_pipe_finish(struct core_pipe *p)
{
	stop(p, 0);
	return p->rc ? failure(p) : CAIRN_OK; /* joined: no lock needed any more */
}

void core_pipe_free(struct core_pipe *p)
{
	if (!p)
		return;
	stop(p, 1);
	for (size_t i = 0; i < CORE_PIPE_SLOTS; i++)
		core_buf_free(&p->q[i].data);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
