/*
 * fake_engine: the socket and line handling shared by the scripted engines of
 * test_trace, test_sched and test_confirm (see fake_engine.h).
 */
#include "fake_engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>

struct bufferevent *fake_engine_open(struct event_base *base, struct engine_conn **conn,
				     const char *tag, bufferevent_data_cb cb, void *arg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[64], spec[sizeof(sa.sun_path) + 8], err[ENGINE_CONN_ERR_MAX];
	struct bufferevent *bev;
	int lfd, fd;

	/* A short tag: the directory must leave room for the socket name in sun_path. */
	snprintf(dir, sizeof(dir), "/tmp/hopwatch-test-%.16s-XXXXXX", tag);
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/engine.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	snprintf(spec, sizeof(spec), "unix:%s", sa.sun_path);
	assert_int_equal(engine_conn_open(conn, base, spec, NULL, err, sizeof(err)), 0);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
	evutil_make_socket_nonblocking(fd);
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	bufferevent_setcb(bev, cb, NULL, NULL, arg);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return bev;
}

int fake_engine_next(struct bufferevent *bev, struct proto_command *c)
{
	char *line;
	size_t len;

	while ((line = evbuffer_readln(bufferevent_get_input(bev), &len, EVBUFFER_EOL_LF))) {
		struct proto_line pl;
		char out[FAKE_ENGINE_LINE_MAX];

		assert_int_equal(proto_split(line, len, &pl), PROTO_OK);
		assert_int_equal(proto_decode_command(&pl, c, NULL), PROTO_OK);
		free(line);
		if (c->cmd == PROTO_CMD_SEND_PROBE)
			return 1;
		if (c->cmd == PROTO_CMD_ENABLE_EXTENSION)
			snprintf(out, sizeof(out), "%lld extension-enabled\n", (long long)c->token);
		else
			snprintf(out, sizeof(out), "%lld feature-support support ok\n",
				 (long long)c->token);
		fake_engine_write(bev, out);
	}
	return 0;
}

void fake_engine_write(struct bufferevent *bev, const char *line)
{
	assert_int_equal(bufferevent_write(bev, line, strlen(line)), 0);
}
