/*
 * fake_engine: the transport half of the scripted engines the client-core tests talk to.
 * An engine connection is opened to a UNIX socket in a fresh directory and the fake takes
 * the other end; the fake answers every check-support with "ok" itself and hands each
 * send-probe to its test, which decides the answer (or none). What an engine answers is
 * each test's own script; how it is reached and read is the same for all of them.
 */
#ifndef HOPWATCH_TESTS_UNIT_FAKE_ENGINE_H
#define HOPWATCH_TESTS_UNIT_FAKE_ENGINE_H

#include <event2/bufferevent.h>

#include "client/engine_conn.h"
#include "proto/proto.h"

/* Longest line the fakes write. */
#define FAKE_ENGINE_LINE_MAX 256

/*
 * Open *conn (on base) to a new socket named after tag and accept it: the fake's end, a
 * bufferevent reading with cb(bev, arg), reading and writing enabled. The socket's file and
 * directory are gone once connected. Fails the test on any error.
 */
struct bufferevent *fake_engine_open(struct event_base *base, struct engine_conn **conn,
				     const char *tag, bufferevent_data_cb cb, void *arg);

/*
 * The next send-probe the client wrote, decoded into c: 1, or 0 when no whole line is
 * left. Every line must be a valid command; check-support (ok) and enable-extension (enabled) are answered here.
 */
int fake_engine_next(struct bufferevent *bev, struct proto_command *c);

/* Write one reply line (with its newline) to the client. */
void fake_engine_write(struct bufferevent *bev, const char *line);

#endif
