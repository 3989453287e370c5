/* netaddr.h: listener addresses as the config writes them. */
#ifndef HOTLINE111_NETADDR_H
#define HOTLINE111_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* "unix:PATH", "tcp:HOST:PORT" or "tcp:[V6]:PORT" into a socket address. */
int netaddr_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen);
/* "HOST:PORT", "[V6]:PORT" or "tcp:…" of those (the HTTP listeners' form). */
int netaddr_parse_tcp(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen);
/*
 * A non-blocking listening socket for spec. A Unix socket path that still
 * answers belongs to another daemon: refused; a stale one is replaced.
 */
int netaddr_listen(const char *spec, int mode, char *err, size_t errlen);

#endif
