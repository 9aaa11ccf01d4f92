/* server.h — ladle's HTTP server: the Open Inference Protocol (V2) with Triton's extensions, V1,
 * and /metrics, over libevent.
 *
 * Threads: the caller's thread accepts connections and handles signals; `threads` I/O threads
 * each own an event loop and the connections handed to them; the repository's loader and the
 * schedulers' instance threads do the slow work and hand results back to the I/O thread that
 * owns the connection (a mailbox and an eventfd wake-up). I/O threads never block and no other
 * thread touches a connection. */
#ifndef LADLE_HTTP_SERVER_H
#define LADLE_HTTP_SERVER_H

#include <stdint.h>

#include "base/status.h"
#include "serving/repository.h"

typedef struct http_options {
  const char *address; /* listen address, "0.0.0.0" by default */
  int port;            /* 0: any free port (see http_server_port) */
  int threads;         /* I/O threads; 0: one per core */
  int64_t max_body_bytes;
  int64_t max_header_bytes;
  int max_json_depth;
  int64_t max_tensor_elements;
  int64_t max_request_memory; /* a request's decoded tensors and outputs together */
  int max_connections;
  int read_timeout_secs;  /* a request must arrive within this long of silence; idle keep-alive too */
  int write_timeout_secs; /* a response must drain within this long of no progress */
  int exit_timeout_secs;  /* how long shutdown waits for requests in flight */
} http_options;

typedef struct http_server http_server;

/* Binds the listening socket (so a busy port fails here) and prepares the I/O threads. */
http_server *http_server_new(const http_options *o, repo *r, errbuf *e);
int http_server_port(const http_server *s);
/* Serves until SIGINT or SIGTERM, then stops accepting, finishes the requests in flight (up to
 * exit_timeout_secs) and returns LADLE_OK. */
ladle_status http_server_run(http_server *s, errbuf *e);
void http_server_free(http_server *s);

#endif
