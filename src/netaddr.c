/* netaddr.c: "unix:PATH" and "tcp:HOST:PORT" listeners. */
#include "netaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int
parse_unix(const char *path, struct sockaddr_storage *ss, socklen_t *len, char *err,
    size_t errlen)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;

	if (path[0] == '\0' || strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "unix socket path empty or longer than %zu bytes",
		    sizeof(sun->sun_path) - 1);
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path));
	*len = sizeof(*sun);
	return 0;
}

static int
parse_tcp(const char *hp, struct sockaddr_storage *ss, socklen_t *len, char *err,
    size_t errlen)
{
	char host[256];
	const char *port;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM }, *res;
	size_t hl;
	int rc;

	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');
		if (end == NULL || end[1] != ':')
			goto bad;
		hl = (size_t)(end - hp - 1);
		hp++;
		port = end + 2;
	} else {
		port = strrchr(hp, ':');
		if (port == NULL)
			goto bad;
		hl = (size_t)(port - hp);
		port++;
	}
	if (hl == 0 || hl >= sizeof(host) || *port == '\0')
		goto bad;
	if (port[strspn(port, "0123456789")] != '\0' || strlen(port) > 5 || atoi(port) < 1 ||
	    atoi(port) > 65535) {
		snprintf(err, errlen, "port %.16s: must be a number 1..65535", port);
		return -1;
	}
	memcpy(host, hp, hl);
	host[hl] = '\0';
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "tcp:%s: %s (numeric address and port expected)", hp,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	snprintf(err, errlen, "expected tcp:HOST:PORT or tcp:[V6]:PORT");
	return -1;
}

int
netaddr_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char *err,
    size_t errlen)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return parse_unix(spec + 5, ss, len, err, errlen);
	if (strncmp(spec, "tcp:", 4) == 0)
		return parse_tcp(spec + 4, ss, len, err, errlen);
	snprintf(err, errlen, "%s: expected unix:PATH or tcp:HOST:PORT", spec);
	return -1;
}

int
netaddr_parse_tcp(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char *err,
    size_t errlen)
{
	return parse_tcp(strncmp(spec, "tcp:", 4) == 0 ? spec + 4 : spec, ss, len, err, errlen);
}

/* A path that accepts a connection is a live daemon's; one that refuses is stale. */
static int
unix_in_use(const struct sockaddr_storage *ss, socklen_t len)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
	struct stat st;
	int fd, live;

	if (stat(sun->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)ss, len) == 0;
	close(fd);
	if (!live)
		unlink(sun->sun_path);
	return live;
}

int
netaddr_listen(const char *spec, int mode, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (netaddr_parse(spec, &ss, &len, err, errlen) != 0)
		return -1;
	if (ss.ss_family == AF_UNIX && unix_in_use(&ss, len)) {
		snprintf(err, errlen, "%s: another daemon is answering there", spec);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (ss.ss_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0)
		goto fail;
	if (ss.ss_family == AF_UNIX &&
	    chmod(((struct sockaddr_un *)&ss)->sun_path, (mode_t)mode) != 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "%s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}
