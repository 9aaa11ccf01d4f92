/* server.c — listening, I/O threads, connections and their state machine, graceful shutdown.
 *
 * Lock order: io_thread.mu is a leaf lock (the mailbox). Nothing else in this file locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "http/internal.h"
#include "serving/json.h"

#define READ_CHUNK 16384
#define KEEP_IN_BUF (64 * 1024)  /* buffers larger than this shrink back when idle */
#define LINGER_SECS 2            /* silence that ends a lingering close */
#define LINGER_MAX_SECS 30
#define LINGER_MAX_BYTES ((uint64_t)1 << 30)
#define ARENA_FIRST (32 * 1024)

static void conn_drive(conn *c);
static void conn_close(conn *c);
static void conn_free(conn *c);

static uint64_t now_ns(void) { return time_now_ns(); }

/* --- status codes ------------------------------------------------------------------------- */

int http_code_of(ladle_status st) {
  switch (st) {
    case LADLE_OK: return 200;
    case LADLE_ERR_INVALID:
    case LADLE_ERR_PARSE:
    case LADLE_ERR_SHAPE:
    case LADLE_ERR_DTYPE:
    case LADLE_ERR_UNSUPPORTED: return 400;
    case LADLE_ERR_NOT_FOUND: return 404;
    case LADLE_ERR_LIMIT: return 413;
    case LADLE_ERR_UNAVAILABLE: return 503;
    case LADLE_ERR_TIMEOUT: return 504;
    case LADLE_ERR_NOMEM:
    case LADLE_ERR_IO:
    case LADLE_ERR_INTERNAL:
    default: return 500;
  }
}

static const char *reason_phrase(int code) {
  switch (code) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

/* --- replies ------------------------------------------------------------------------------ */

void http_finish(conn *c, int code, const char *ctype, const char *extra) {
  dbuf *h = &c->hdr;
  io_thread *io = c->io;
  if (c->out.failed) { /* the body went over its limit: say so instead */
    dbuf_reset(&c->out);
    dbuf_puts(&c->out, "{\"error\":\"the response is larger than the server's limit\"}");
    code = 500;
    ctype = "application/json";
    extra = NULL;
  }
  if (io->draining || __atomic_load_n(&io->srv->draining, __ATOMIC_RELAXED) || !c->head.keep_alive)
    c->close_after = true;
  dbuf_reset(h);
  char status[4] = {(char)('0' + code / 100 % 10), (char)('0' + code / 10 % 10), (char)('0' + code % 10), ' '};
  dbuf_puts(h, "HTTP/1.1 ");
  dbuf_append(h, status, 4);
  dbuf_puts(h, reason_phrase(code));
  dbuf_puts(h, "\r\nContent-Type: ");
  dbuf_puts(h, ctype);
  dbuf_puts(h, "\r\nContent-Length: ");
  json_put_u64(h, c->out.len);
  dbuf_puts(h, "\r\n");
  if (c->close_after) dbuf_puts(h, "Connection: close\r\n");
  else if (c->head.minor == 0) dbuf_puts(h, "Connection: keep-alive\r\n");
  if (extra) dbuf_puts(h, extra);
  dbuf_puts(h, "\r\n");
  if (c->head.method == HTTP_HEAD) c->out.len = 0;
  if (code >= 100 && code < 600) /* read by /metrics on other threads */
    __atomic_store_n(&io->codes[code / 100], __atomic_load_n(&io->codes[code / 100], __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
  c->sent = 0;
  c->state = CS_WRITE;
}

void http_reply_json(conn *c, int code) { http_finish(c, code, "application/json", NULL); }

static void error_body(conn *c, const char *msg) {
  dbuf_reset(&c->out);
  dbuf_puts(&c->out, "{\"error\":");
  json_put_str(&c->out, msg, strlen(msg));
  dbuf_putc(&c->out, '}');
}

void http_reply_error(conn *c, int code, const char *fmt, ...) {
  char msg[LADLE_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  error_body(c, msg);
  http_finish(c, code, "application/json", code == 503 ? "Retry-After: 1\r\n" : NULL);
}

void http_reply_status(conn *c, ladle_status st, const char *msg) {
  http_reply_error(c, http_code_of(st), "%s", msg);
}

/* An error found before the request was fully read: answer, then close (lingering). */
static void reply_early(conn *c, int code, const char *msg) {
  c->close_after = true;
  c->linger_after = true;
  error_body(c, msg);
  http_finish(c, code, "application/json", NULL);
}

/* --- mailbox ------------------------------------------------------------------------------ */

static void io_wake(io_thread *io) {
  uint64_t one = 1;
  ssize_t n = write(io->efd, &one, sizeof one);
  (void)n;
}

void io_post(conn *c) {
  io_thread *io = c->io;
  pthread_mutex_lock(&io->mu);
  bool was_empty = !io->done_head;
  c->mb_next = NULL;
  if (io->done_tail) io->done_tail->mb_next = c;
  else io->done_head = c;
  io->done_tail = c;
  pthread_mutex_unlock(&io->mu);
  if (was_empty) io_wake(io);
}

/* Ends the wait of a request the batcher refused: its answer is written now. */
static void refuse_request(infer_request *r, const errbuf *e) {
  conn *c = r->ud;
  r->st = LADLE_ERR_UNAVAILABLE;
  r->why = strstr(e->msg, "queue is full") ? FAIL_QUEUE_FULL : FAIL_UNAVAILABLE;
  r->err = *e;
  c->pending = false;
  conn_resume_fn fn = c->resume;
  c->resume = NULL;
  if (fn) fn(c);
  if (c->dead) conn_free(c);
  else conn_drive(c);
}

static void flush_pending(io_thread *io) {
  int n = io->n_pend;
  pend_group groups[IO_PEND_GROUPS];
  memcpy(groups, io->pend, sizeof groups[0] * (size_t)n);
  io->n_pend = 0;
  io->flush_armed = false;
  for (int i = 0; i < n; i++) {
    errbuf e;
    infer_request *left = batcher_submit_list(groups[i].b, groups[i].head, &e);
    while (left) {
      infer_request *next = left->next;
      left->next = NULL;
      refuse_request(left, &e);
      left = next;
    }
  }
}

static void flush_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  flush_pending(arg);
}

void io_defer_submit(io_thread *io, batcher *b, infer_request *r) {
  pend_group *g = NULL;
  r->next = NULL;
  for (int i = 0; i < io->n_pend && !g; i++)
    if (io->pend[i].b == b) g = &io->pend[i];
  if (!g) {
    if (io->n_pend == IO_PEND_GROUPS) flush_pending(io); /* many models in one turn: flush early */
    g = &io->pend[io->n_pend++];
    g->b = b;
    g->head = g->tail = NULL;
  }
  if (g->tail) g->tail->next = r;
  else g->head = r;
  g->tail = r;
  if (!io->flush_armed) {
    io->flush_armed = true;
    event_active(io->flush_ev, EV_TIMEOUT, 0);
  }
}

void conn_wait(conn *c, conn_resume_fn resume, void *ctx) {
  c->pending = true;
  c->resume = resume;
  c->ctx = ctx;
}

/* --- connections -------------------------------------------------------------------------- */

static void set_reading(conn *c, bool on, int secs) {
  if (on) {
    struct timeval tv = {secs, 0};
    event_add(c->rev, &tv);
    c->reading = true;
  } else if (c->reading) {
    event_del(c->rev);
    c->reading = false;
  }
}

static void conn_free(conn *c) {
  dbuf_destroy(&c->in);
  dbuf_destroy(&c->hdr);
  dbuf_destroy(&c->out);
  arena_destroy(&c->mem);
  free(c);
}

static void unlink_conn(conn *c) {
  io_thread *io = c->io;
  if (c->prev) c->prev->next = c->next;
  else if (io->conns == c) io->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  __atomic_sub_fetch(&io->n_conns, 1, __ATOMIC_RELAXED);
}

static void check_drained(io_thread *io) {
  if (io->draining && io->n_conns == 0) {
    uint64_t one = 1;
    ssize_t n = write(io->srv->done_efd, &one, sizeof one);
    (void)n;
    event_base_loopexit(io->base, NULL);
  }
}

/* Closes the socket. A connection waiting for a scheduler or the loader stays allocated (dead)
 * until that step comes back. */
static void conn_close(conn *c) {
  if (c->fd < 0) return;
  if (c->rev) event_free(c->rev);
  if (c->wev) event_free(c->wev);
  c->rev = c->wev = NULL;
  close(c->fd);
  c->fd = -1;
  io_thread *io = c->io;
  unlink_conn(c);
  if (c->pending) c->dead = true;
  else conn_free(c);
  check_drained(io);
}

/* Writes what is left of the response; true when all of it is out. */
static bool flush(conn *c) {
  for (;;) {
    struct iovec iov[2];
    int n = 0;
    size_t hl = c->hdr.len, total = hl + c->out.len;
    if (c->sent >= total) return true;
    if (c->sent < hl) {
      iov[n].iov_base = c->hdr.p + c->sent;
      iov[n++].iov_len = hl - c->sent;
      if (c->out.len) {
        iov[n].iov_base = c->out.p;
        iov[n++].iov_len = c->out.len;
      }
    } else {
      iov[n].iov_base = c->out.p + (c->sent - hl);
      iov[n++].iov_len = total - c->sent;
    }
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    if (w > 0) {
      c->sent += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c->write_armed) {
        struct timeval tv = {c->io->srv->o.write_timeout_secs, 0};
        event_add(c->wev, &tv);
        c->write_armed = true;
      }
      return false;
    }
    conn_close(c); /* the peer went away */
    return false;
  }
}

/* The response is out: close, linger, or get ready for the next request. Returns false when
 * the connection is gone (c must not be touched). */
static bool after_write(conn *c) {
  if (c->write_armed) {
    event_del(c->wev);
    c->write_armed = false;
  }
  if (c->close_after) {
    if (c->linger_after) {
      shutdown(c->fd, SHUT_WR);
      c->state = CS_LINGER;
      c->linger_until = now_ns() + (uint64_t)LINGER_MAX_SECS * 1000000000u;
      c->linger_bytes = 0;
      dbuf_reset(&c->in);
      set_reading(c, true, LINGER_SECS);
      return true;
    }
    conn_close(c);
    return false;
  }
  dbuf_consume(&c->in, c->req_bytes);
  c->req_bytes = 0;
  c->scan = 0;
  memset(&c->chunk, 0, sizeof c->chunk);
  c->body = NULL;
  c->body_len = 0;
  c->ctx = NULL;
  c->resume = NULL;
  arena_reset(&c->mem);
  dbuf_reset(&c->out);
  dbuf_reset(&c->hdr);
  if (c->out.cap > KEEP_IN_BUF) dbuf_trim(&c->out, KEEP_IN_BUF);
  if (c->in.cap > KEEP_IN_BUF) dbuf_trim(&c->in, KEEP_IN_BUF);
  c->state = CS_HEAD;
  if (!c->reading) set_reading(c, true, c->io->srv->o.read_timeout_secs);
  return true;
}

/* The head's pointers were taken when the head arrived; the buffer may have moved since. */
static void rebase_head(conn *c) {
  http_head *h = &c->head;
  h->method_text = c->in.p + c->head_offs[0];
  h->path = c->in.p + c->head_offs[1];
  if (h->content_type) h->content_type = c->in.p + c->head_offs[2];
}

static void dispatch(conn *c) {
  rebase_head(c);
  c->state = CS_BUSY;
  c->t_start = now_ns();
  route_request(c);
}

/* Parses what has arrived; returns false when more bytes are needed. */
static bool parse_input(conn *c) {
  const http_options *o = &c->io->srv->o;
  errbuf e;
  if (c->state == CS_HEAD) {
    int code = 400;
    head_result hr = http_parse_head(c->in.p, c->in.len, (size_t)o->max_header_bytes, &c->scan,
                                     &c->head, &code, &e);
    if (hr == HEAD_INCOMPLETE) return false;
    if (hr == HEAD_BAD) {
      c->head.keep_alive = false;
      c->head.method = HTTP_GET;
      reply_early(c, code, e.msg);
      return true;
    }
    if (c->head.content_length > o->max_body_bytes) {
      char msg[200];
      snprintf(msg, sizeof msg, "request body of %lld bytes is larger than the limit of %lld bytes (--max-body-bytes)",
               (long long)c->head.content_length, (long long)o->max_body_bytes);
      reply_early(c, 413, msg);
      return true;
    }
    c->head_offs[0] = (size_t)(c->head.method_text - c->in.p);
    c->head_offs[1] = (size_t)(c->head.path - c->in.p);
    c->head_offs[2] = c->head.content_type ? (size_t)(c->head.content_type - c->in.p) : 0;
    c->state = CS_BODY;
    c->body = c->in.p + c->head.head_len;
    size_t have = c->in.len - c->head.head_len;
    if (c->head.content_length > 0 && (size_t)c->head.content_length > have) {
      if (c->head.expect_continue && have == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        ssize_t n = send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
        (void)n;
      }
      /* make room for the whole body at once */
      dbuf_reserve(&c->in, (size_t)c->head.content_length - have);
      c->in.failed = false;
    } else if (c->head.chunked && c->head.expect_continue && have == 0) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      ssize_t n = send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
      (void)n;
    }
  }
  /* CS_BODY */
  size_t hl = c->head.head_len;
  c->body = c->in.p + hl;
  if (c->head.chunked) {
    ladle_status st = http_dechunk(c->body, c->in.len - hl, (uint64_t)o->max_body_bytes, &c->chunk, &e);
    if (st) {
      reply_early(c, st == LADLE_ERR_LIMIT ? 413 : 400, e.msg);
      return true;
    }
    if (!c->chunk.done) return false;
    c->body_len = c->chunk.out;
    c->req_bytes = hl + c->chunk.raw;
  } else {
    size_t want = c->head.content_length > 0 ? (size_t)c->head.content_length : 0;
    if (c->in.len - hl < want) return false;
    c->body_len = want;
    c->req_bytes = hl + want;
  }
  dispatch(c);
  return true;
}

static void conn_drive(conn *c) {
  for (;;) {
    switch (c->state) {
      case CS_HEAD:
      case CS_BODY:
        if (!parse_input(c)) return;
        break;
      case CS_BUSY:
        if (c->pending) return;
        /* a handler returned without answering: our bug, but answer anyway */
        http_reply_error(c, 500, "internal error: no response was produced");
        break;
      case CS_WRITE:
        if (!flush(c) || !after_write(c)) return;
        break;
      case CS_LINGER: return;
    }
  }
}

static void on_read_timeout(conn *c) {
  if (c->state == CS_LINGER) {
    conn_close(c);
  } else if (c->state == CS_HEAD && c->in.len == 0) {
    conn_close(c); /* idle keep-alive */
  } else if (c->state == CS_HEAD || c->state == CS_BODY) {
    c->head.keep_alive = false;
    reply_early(c, 408, "the request did not arrive in time (--http-read-timeout-secs)");
    conn_drive(c);
  }
}

static void read_cb(evutil_socket_t fd, short what, void *arg) {
  conn *c = arg;
  (void)fd;
  if (what & EV_TIMEOUT) {
    on_read_timeout(c);
    return;
  }
  if (c->state == CS_LINGER) {
    char sink[16384];
    ssize_t n = recv(c->fd, sink, sizeof sink, 0);
    if (n > 0) c->linger_bytes += (uint64_t)n;
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || c->linger_bytes > LINGER_MAX_BYTES ||
        now_ns() > c->linger_until)
      conn_close(c);
    return;
  }
  if (c->state != CS_HEAD && c->state != CS_BODY) {
    set_reading(c, false, 0); /* busy with a request: read the next one later */
    return;
  }
  size_t room = READ_CHUNK;
  if (c->state == CS_BODY && c->head.content_length > 0) {
    size_t need = c->head.head_len + (size_t)c->head.content_length;
    if (need > c->in.len) room = need - c->in.len;
    if (room < READ_CHUNK) room = READ_CHUNK;
  }
  if (c->in.cap - c->in.len < room && !dbuf_reserve(&c->in, room)) {
    c->in.failed = false;
    if (c->in.cap == c->in.len && !dbuf_reserve(&c->in, 1)) {
      c->in.failed = false;
      reply_early(c, 413, "request larger than the server's limits");
      conn_drive(c);
      return;
    }
  }
  ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
  if (n > 0) {
    c->in.len += (size_t)n;
    conn_drive(c);
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n == 0 && c->in.len > 0 && c->state == CS_HEAD) {
    /* the client half-closed after a partial request: tell it */
    c->head.keep_alive = false;
    reply_early(c, 400, "the connection was closed before the request was complete");
    c->linger_after = false;
    conn_drive(c);
    return;
  }
  conn_close(c);
}

static void write_cb(evutil_socket_t fd, short what, void *arg) {
  conn *c = arg;
  (void)fd;
  if (what & EV_TIMEOUT) {
    conn_close(c);
    return;
  }
  conn_drive(c);
}

static void conn_new(io_thread *io, int fd) {
  conn *c = calloc(1, sizeof *c);
  const http_options *o = &io->srv->o;
  if (!c) {
    close(fd);
    __atomic_sub_fetch(&io->n_conns, 1, __ATOMIC_RELAXED);
    return;
  }
  c->io = io;
  c->fd = fd;
  dbuf_init(&c->in, (size_t)o->max_header_bytes + (size_t)o->max_body_bytes + 65536);
  dbuf_init(&c->hdr, 64 * 1024);
  dbuf_init(&c->out, (size_t)o->max_request_memory);
  arena_init(&c->mem, ARENA_FIRST, (size_t)o->max_request_memory);
  c->rev = event_new(io->base, fd, EV_READ | EV_PERSIST, read_cb, c);
  c->wev = event_new(io->base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
  if (c->rev) event_priority_set(c->rev, 0);
  if (c->wev) event_priority_set(c->wev, 0);
  if (!c->rev || !c->wev) {
    if (c->rev) event_free(c->rev);
    if (c->wev) event_free(c->wev);
    close(fd);
    conn_free(c);
    __atomic_sub_fetch(&io->n_conns, 1, __ATOMIC_RELAXED);
    return;
  }
  c->next = io->conns;
  if (io->conns) io->conns->prev = c;
  io->conns = c;
  c->state = CS_HEAD;
  set_reading(c, true, o->read_timeout_secs);
}

/* --- I/O threads -------------------------------------------------------------------------- */

static void start_drain(io_thread *io) {
  if (io->draining) return;
  io->draining = true;
  conn *c = io->conns;
  while (c) {
    conn *next = c->next;
    if (c->state == CS_HEAD && c->in.len == 0) conn_close(c);
    c = next;
  }
  check_drained(io);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg) {
  io_thread *io = arg;
  uint64_t v;
  (void)what;
  ssize_t n = read(fd, &v, sizeof v);
  (void)n;
  pthread_mutex_lock(&io->mu);
  conn *done = io->done_head;
  io->done_head = io->done_tail = NULL;
  int fds[64], n_fds = io->n_new < 64 ? io->n_new : 64;
  if (n_fds) {
    memcpy(fds, io->new_fds, sizeof(int) * (size_t)n_fds);
    memmove(io->new_fds, io->new_fds + n_fds, sizeof(int) * (size_t)(io->n_new - n_fds));
    io->n_new -= n_fds;
  }
  bool more = io->n_new > 0;
  bool drain = io->drain_req, stop = io->stop_req;
  pthread_mutex_unlock(&io->mu);
  if (more) io_wake(io);
  for (int i = 0; i < n_fds; i++) {
    if (io->draining) {
      close(fds[i]);
      __atomic_sub_fetch(&io->n_conns, 1, __ATOMIC_RELAXED);
    } else {
      conn_new(io, fds[i]);
    }
  }
  while (done) {
    conn *c = done;
    done = c->mb_next;
    c->mb_next = NULL;
    c->pending = false;
    conn_resume_fn fn = c->resume;
    c->resume = NULL;
    if (fn) fn(c); /* on a dead connection it only releases what the request held */
    if (c->dead) conn_free(c);
    else conn_drive(c);
  }
  if (stop) {
    event_base_loopbreak(io->base);
    return;
  }
  if (drain) start_drain(io);
}

static void *io_main(void *arg) {
  io_thread *io = arg;
  event_base_dispatch(io->base);
  return NULL;
}

/* --- accepting, signals, shutdown (main thread) --------------------------------------------- */

static void refuse(int fd) {
  static const char msg[] =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
      "Connection: close\r\nContent-Length: 53\r\n\r\n{\"error\":\"too many connections (--max-connections)\"}";
  ssize_t n = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL);
  (void)n;
  close(fd);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg) {
  http_server *s = arg;
  (void)what;
  for (int k = 0; k < 64; k++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE)
        log_msg(LOG_WARN, "http", "cannot accept: %s", strerror(errno));
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int total = 0, best = 0;
    for (int i = 0; i < s->n_io; i++) {
      int n = __atomic_load_n(&s->io[i].n_conns, __ATOMIC_RELAXED);
      total += n;
      if (n < __atomic_load_n(&s->io[best].n_conns, __ATOMIC_RELAXED)) best = i;
    }
    if (total >= s->o.max_connections) {
      s->conns_refused++;
      refuse(fd);
      continue;
    }
    /* among equally loaded threads, rotate */
    int pick = best;
    for (int i = 0; i < s->n_io; i++) {
      int cand = (s->next_io + i) % s->n_io;
      if (__atomic_load_n(&s->io[cand].n_conns, __ATOMIC_RELAXED) ==
          __atomic_load_n(&s->io[best].n_conns, __ATOMIC_RELAXED)) {
        pick = cand;
        break;
      }
    }
    s->next_io = (pick + 1) % s->n_io;
    io_thread *io = &s->io[pick];
    pthread_mutex_lock(&io->mu);
    if (io->n_new == io->cap_new) {
      int cap = io->cap_new ? io->cap_new * 2 : 64;
      int *p = realloc(io->new_fds, sizeof(int) * (size_t)cap);
      if (!p) {
        pthread_mutex_unlock(&io->mu);
        close(fd);
        continue;
      }
      io->new_fds = p;
      io->cap_new = cap;
    }
    io->new_fds[io->n_new++] = fd;
    __atomic_add_fetch(&io->n_conns, 1, __ATOMIC_RELAXED); /* counted now, so the next accept balances */
    pthread_mutex_unlock(&io->mu);
    s->conns_total++;
    io_wake(io);
  }
}

static void post_flag(io_thread *io, bool stop) {
  pthread_mutex_lock(&io->mu);
  if (stop) io->stop_req = true;
  else io->drain_req = true;
  pthread_mutex_unlock(&io->mu);
  io_wake(io);
}

static void force_stop(http_server *s) {
  for (int i = 0; i < s->n_io; i++) post_flag(&s->io[i], true);
  event_base_loopexit(s->main_base, NULL);
}

static void exit_timer_cb(evutil_socket_t fd, short what, void *arg) {
  http_server *s = arg;
  (void)fd;
  (void)what;
  log_msg(LOG_WARN, "http", "requests still in flight after --exit-timeout-secs %d: stopping anyway",
          s->o.exit_timeout_secs);
  force_stop(s);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg) {
  http_server *s = arg;
  (void)what;
  if (__atomic_load_n(&s->draining, __ATOMIC_RELAXED)) {
    log_msg(LOG_WARN, "http", "second %s: stopping now", sig == SIGINT ? "SIGINT" : "SIGTERM");
    force_stop(s);
    return;
  }
  log_msg(LOG_INFO, "http", "%s: no longer accepting; finishing requests in flight",
          sig == SIGINT ? "SIGINT" : "SIGTERM");
  __atomic_store_n(&s->draining, true, __ATOMIC_RELAXED);
  event_del(s->accept_ev);
  close(s->lfd);
  s->lfd = -1;
  for (int i = 0; i < s->n_io; i++) post_flag(&s->io[i], false);
  struct timeval tv = {s->o.exit_timeout_secs, 0};
  evtimer_add(s->exit_timer, &tv);
}

static void done_cb(evutil_socket_t fd, short what, void *arg) {
  http_server *s = arg;
  uint64_t v = 0;
  (void)what;
  if (read(fd, &v, sizeof v) == sizeof v) s->live_io -= (int)v;
  if (s->live_io <= 0) event_base_loopexit(s->main_base, NULL);
}

/* --- lifecycle ---------------------------------------------------------------------------- */

static int listen_on(const char *addr, int port, int *bound, errbuf *e) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  int family;
  if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
    family = AF_INET;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    len = sizeof *v6;
  } else {
    err_set(e, LADLE_ERR_INVALID, "--http-address '%s' is not an IPv4 or IPv6 address", addr);
    return -1;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err_set(e, LADLE_ERR_IO, "socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 4096) != 0) {
    err_set(e, LADLE_ERR_IO, "cannot listen on %s port %d: %s", addr, port, strerror(errno));
    close(fd);
    return -1;
  }
  len = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &len);
  *bound = ntohs(family == AF_INET ? v4->sin_port : v6->sin6_port);
  return fd;
}

http_server *http_server_new(const http_options *o, repo *r, errbuf *e) {
  http_server *s = calloc(1, sizeof *s);
  if (!s) {
    err_set(e, LADLE_ERR_NOMEM, "out of memory");
    return NULL;
  }
  s->o = *o;
  s->repo = r;
  s->lfd = -1;
  s->done_efd = -1;
  s->n_io = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (s->n_io < 1) s->n_io = 1;
  if (s->n_io > 256) s->n_io = 256;
  s->start_wall_ms = stats_now_ms();
  if ((s->lfd = listen_on(o->address, o->port, &s->port, e)) < 0) goto fail;
  if (!(s->main_base = event_base_new())) goto nomem;
  if ((s->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) goto nomem;
  if (!(s->io = calloc((size_t)s->n_io, sizeof *s->io))) goto nomem;
  for (int i = 0; i < s->n_io; i++) {
    io_thread *io = &s->io[i];
    io->srv = s;
    io->idx = i;
    io->efd = -1;
    pthread_mutex_init(&io->mu, NULL);
    if (!(io->base = event_base_new())) goto nomem;
    event_base_priority_init(io->base, 2); /* 0: sockets and wake-ups; 1: the end-of-turn flush */
    if ((io->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) goto nomem;
    if (!(io->wake_ev = event_new(io->base, io->efd, EV_READ | EV_PERSIST, wake_cb, io))) goto nomem;
    if (!(io->flush_ev = event_new(io->base, -1, 0, flush_cb, io))) goto nomem;
    event_priority_set(io->wake_ev, 0);
    event_priority_set(io->flush_ev, 1);
    event_add(io->wake_ev, NULL);
  }
  s->accept_ev = event_new(s->main_base, s->lfd, EV_READ | EV_PERSIST, accept_cb, s);
  s->sigint_ev = evsignal_new(s->main_base, SIGINT, signal_cb, s);
  s->sigterm_ev = evsignal_new(s->main_base, SIGTERM, signal_cb, s);
  s->exit_timer = evtimer_new(s->main_base, exit_timer_cb, s);
  s->done_ev = event_new(s->main_base, s->done_efd, EV_READ | EV_PERSIST, done_cb, s);
  if (!s->accept_ev || !s->sigint_ev || !s->sigterm_ev || !s->exit_timer || !s->done_ev) goto nomem;
  return s;
nomem:
  err_set(e, LADLE_ERR_NOMEM, "cannot set up the event loops");
fail:
  http_server_free(s);
  return NULL;
}

int http_server_port(const http_server *s) { return s->port; }

ladle_status http_server_run(http_server *s, errbuf *e) {
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < s->n_io; i++) {
    if (pthread_create(&s->io[i].tid, NULL, io_main, &s->io[i]) != 0) {
      for (int k = 0; k < i; k++) post_flag(&s->io[k], true);
      for (int k = 0; k < i; k++) pthread_join(s->io[k].tid, NULL);
      for (int k = 0; k < i; k++) s->io[k].started = false;
      return err_set(e, LADLE_ERR_NOMEM, "cannot start I/O threads");
    }
    s->io[i].started = true;
  }
  s->live_io = s->n_io;
  event_add(s->accept_ev, NULL);
  event_add(s->sigint_ev, NULL);
  event_add(s->sigterm_ev, NULL);
  event_add(s->done_ev, NULL);
  log_msg(LOG_INFO, "http", "listening on %s port %d with %d I/O thread(s)", s->o.address, s->port, s->n_io);
  event_base_dispatch(s->main_base);
  /* stop: the I/O threads either drained or were told to stop. What is left is bounded (queued
   * requests finish); further signals must not kill the process half way through. */
  event_del(s->sigint_ev); /* (restores the previous handlers) */
  event_del(s->sigterm_ev);
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  for (int i = 0; i < s->n_io; i++) post_flag(&s->io[i], true);
  for (int i = 0; i < s->n_io; i++)
    if (s->io[i].started) {
      pthread_join(s->io[i].tid, NULL);
      s->io[i].started = false;
    }
  log_msg(LOG_INFO, "http", "stopped");
  return LADLE_OK;
}

void http_server_free(http_server *s) {
  if (!s) return;
  for (int i = 0; s->io && i < s->n_io; i++)
    if (s->io[i].started) post_flag(&s->io[i], true);
  for (int i = 0; s->io && i < s->n_io; i++)
    if (s->io[i].started) pthread_join(s->io[i].tid, NULL);
  /* the schedulers must be quiet before connections (and the request memory they write into)
   * go away */
  repo_stop(s->repo);
  for (int i = 0; s->io && i < s->n_io; i++) {
    io_thread *io = &s->io[i];
    conn *c;
    /* requests decoded but never queued: their connections only clean up */
    for (int g = 0; g < io->n_pend; g++)
      for (infer_request *r = io->pend[g].head; r;) {
        infer_request *next = r->next;
        conn *pc = r->ud;
        pc->pending = false;
        pc->dead = true;
        conn_resume_fn fn = pc->resume;
        pc->resume = NULL;
        if (fn) fn(pc);
        r = next;
      }
    io->n_pend = 0;
    /* completions that were never taken: release what their requests hold */
    for (c = io->done_head; c;) {
      conn *next = c->mb_next;
      bool was_dead = c->dead;
      c->pending = false;
      c->dead = true; /* resume only cleans up */
      conn_resume_fn fn = c->resume;
      c->resume = NULL;
      if (fn) fn(c);
      if (was_dead) conn_free(c);
      c = next;
    }
    while ((c = io->conns)) {
      c->pending = false;
      conn_close(c);
    }
    for (int k = 0; k < io->n_new; k++) close(io->new_fds[k]);
    free(io->new_fds);
    if (io->wake_ev) event_free(io->wake_ev);
    if (io->flush_ev) event_free(io->flush_ev);
    if (io->base) event_base_free(io->base);
    if (io->efd >= 0) close(io->efd);
    pthread_mutex_destroy(&io->mu);
  }
  free(s->io);
  if (s->accept_ev) event_free(s->accept_ev);
  if (s->sigint_ev) event_free(s->sigint_ev);
  if (s->sigterm_ev) event_free(s->sigterm_ev);
  if (s->exit_timer) event_free(s->exit_timer);
  if (s->done_ev) event_free(s->done_ev);
  if (s->main_base) event_base_free(s->main_base);
  if (s->lfd >= 0) close(s->lfd);
  if (s->done_efd >= 0) close(s->done_efd);
  free(s);
}
