/*
 * pipe.h — archive entries written by a second thread.
 *
 * A backup reads its source and packs records on the calling thread (a
 * plugin is only ever called from one thread at a time: cairn/host.h), and
 * compression, encryption and the storage upload are the other half of its
 * CPU. The pipe hands each finished entry to a writer thread, so the two
 * halves run on two cores at once; at most CORE_PIPE_SLOTS entries wait,
 * which bounds the memory to that many chunks.
 *
 * While a pipe runs, the archive writer (and the envelope and storage
 * writer under it) belong to the writer thread: the caller touches them
 * again only after core_pipe_finish or core_pipe_free.
 */
#ifndef CORE_PIPE_H
#define CORE_PIPE_H

#include "buf.h"
#include "container.h"

#define CORE_PIPE_SLOTS 2

struct core_pipe;

/* Start the writer thread for `aw`. CAIRN_E_NOMEM, or CAIRN_E_IO if no thread. */
int core_pipe_start(struct core_archive_writer *aw, struct core_pipe **out);
/*
 * Queue one entry, waiting while every slot is full. The pipe takes the
 * bytes of `data` by swapping buffers: `data` comes back empty (holding a
 * recycled allocation). Returns the writer's failure, recorded in this
 * thread's error slot, once it has one: no entry after a failure is written.
 */
int core_pipe_put(struct core_pipe *p, const char *name, struct core_buf *data);
/* Write what is queued, stop the thread; the first failure, or CAIRN_OK. */
int core_pipe_finish(struct core_pipe *p);
/* Stop the thread, dropping what is still queued (after a failure), and free. */
void core_pipe_free(struct core_pipe *p);

#endif /* CORE_PIPE_H */
