/* internal.h — what the http/ files share: connections, I/O threads, the reply helpers and the
 * handlers. Not used outside src/http.
 *
 * A connection belongs to one I/O thread for its whole life. Its state machine:
 *   CS_HEAD -> CS_BODY -> CS_BUSY (a handler runs, or waits for the loader / a scheduler)
 *   -> CS_WRITE -> CS_HEAD (keep-alive) or closed / CS_LINGER (an error answered before the
 *   whole request was read: the write side is shut and input is discarded for a while, so the
 *   client reads the answer instead of a reset). */
#ifndef LADLE_HTTP_INTERNAL_H
#define LADLE_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/parse.h"
#include "http/server.h"
#include "serving/arena.h"
#include "serving/dbuf.h"
#include "serving/repository.h"

struct event;
struct event_base;
typedef struct io_thread io_thread;
typedef struct conn conn;

typedef enum { CS_HEAD, CS_BODY, CS_BUSY, CS_WRITE, CS_LINGER } conn_state;

typedef void (*conn_resume_fn)(conn *c);

struct conn {
  io_thread *io;
  int fd;
  struct event *rev, *wev;
  bool reading;      /* rev is added */
  bool write_armed;  /* wev is added */
  conn_state state;
  dbuf in;           /* bytes read, the current request first */
  size_t scan;       /* head parser's progress */
  http_head head;
  size_t head_offs[3]; /* method, path and content type as offsets into `in` */
  chunk_state chunk;
  char *body;        /* the request body (in `in`) */
  size_t body_len;
  size_t req_bytes;  /* raw bytes of the current request in `in` */
  dbuf hdr, out;     /* response head and body */
  size_t sent;       /* bytes of hdr + out written */
  bool close_after;  /* close once the response is written */
  bool linger_after; /* ... after discarding input for a while */
  uint64_t linger_until, linger_bytes;
  arena mem;         /* the request's scratch memory */
  uint64_t t_start;  /* when the request's head was complete (monotonic ns) */
  /* an asynchronous step (inference, load, unload) */
  bool pending;
  bool dead;         /* closed while pending: freed when the step completes */
  conn_resume_fn resume;
  void *ctx;         /* the handler's state for resume (in mem) */
  conn *mb_next;     /* mailbox link */
  conn *prev, *next; /* the I/O thread's list */
};

/* Requests decoded during one turn of an I/O thread's loop, per batcher: queued together at the
 * end of the turn (one lock, one wake-up per batcher instead of one per request). */
#define IO_PEND_GROUPS 8
typedef struct pend_group {
  struct batcher *b;
  infer_request *head, *tail;
} pend_group;

struct io_thread {
  struct http_server *srv;
  int idx;
  pthread_t tid;
  bool started;
  struct event_base *base;
  int efd; /* eventfd: mailbox wake-up */
  struct event *wake_ev;
  /* mailbox, under mu (a leaf lock) */
  pthread_mutex_t mu;
  conn *done_head, *done_tail;
  int *new_fds;
  int n_new, cap_new;
  bool drain_req, stop_req;
  /* owned by the thread */
  conn *conns;
  int n_conns; /* also read (relaxed) by the acceptor to balance */
  struct event *flush_ev; /* lowest priority: runs after the turn's other events */
  bool flush_armed;
  pend_group pend[IO_PEND_GROUPS];
  int n_pend;
  bool draining;
  uint64_t codes[6]; /* responses by class: 1xx..5xx (index 1..5) */
};

struct http_server {
  http_options o;
  repo *repo;
  int lfd, port;
  int n_io;
  io_thread *io;
  struct event_base *main_base;
  struct event *accept_ev, *sigint_ev, *sigterm_ev, *exit_timer, *done_ev;
  int done_efd; /* I/O threads report that they finished draining */
  int next_io;
  bool draining; /* atomic */
  int live_io;   /* I/O threads still running (main thread only) */
  uint64_t start_wall_ms;
  uint64_t conns_total, conns_refused;
};

/* --- connection API for handlers (I/O thread only) ----------------------------------------- */

/* The one place where a status becomes an HTTP code. */
int http_code_of(ladle_status st);
/* Sends c->out as the body with code and content type; extra is more header lines
 * ("Name: value\r\n"), or NULL. */
void http_finish(conn *c, int code, const char *ctype, const char *extra);
void http_reply_json(conn *c, int code); /* c->out holds JSON */
void http_reply_error(conn *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* {"error": msg} with the code of st (503 adds Retry-After). */
void http_reply_status(conn *c, ladle_status st, const char *msg);
/* Marks c as waiting: resume(c) runs on c's I/O thread after io_post(c). */
void conn_wait(conn *c, conn_resume_fn resume, void *ctx);
/* From any thread: hands c back to its I/O thread. */
void io_post(conn *c);
/* Queues r (of connection r->ud, already waiting) to b at the end of this loop turn. */
void io_defer_submit(io_thread *io, struct batcher *b, infer_request *r);

/* --- handlers ------------------------------------------------------------------------------ */

void route_request(conn *c);
void handle_v2_infer(conn *c, const char *model, const char *version);
void handle_v2_metadata(conn *c, const char *model, const char *version);
void handle_v2_model_ready(conn *c, const char *model, const char *version);
void handle_v2_server_metadata(conn *c);
void handle_v2_config(conn *c, const char *model, const char *version);
void handle_v2_stats(conn *c, const char *model, const char *version);
void handle_v2_models(conn *c);
void handle_repo_index(conn *c);
void handle_repo_load(conn *c, const char *model, bool load);
void handle_v1_predict(conn *c, const char *model, const char *version);
void handle_v1_status(conn *c, const char *model, const char *version);
void handle_metrics(conn *c);

/* Queues a decoded inference (c->ctx already set): resume(c) runs when it completes; answers
 * at once (and releases v) when the queue refuses it. Shared by V2 and V1. */
void infer_submit(conn *c, model_version *v, const ladle_tensor *in, const bool *want, int64_t rows,
                  int64_t timeout_us, conn_resume_fn resume, infer_request *ir);

/* Per-request accounting for a request that reached a model version. */
void conn_count_result(conn *c, model_version *v, int code, fail_reason why);

#endif
