/*
 * spool.c: the local spool (spool.h has the record format). One file,
 * spool.dat, appended to while the database is away and cut back to
 * nothing once all of it is replayed; spool.pos holds how far the replay
 * got, written aside and renamed into place so it is never half written.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

#define DATA_FILE "spool.dat"
#define POS_FILE "spool.pos"
#define POS_TMP "spool.pos.tmp"

struct spool {
	int dirfd, fd;
	size_t max_bytes;
	size_t size;     /* bytes written, some perhaps not yet durable */
	size_t synced;   /* bytes durable: what may be acknowledged and read */
	size_t pos;      /* replayed up to here */
	size_t records;  /* durable records from pos on */
	size_t unsynced; /* records appended since the last sync */
	unsigned char *map;
	size_t map_len;
};

/* --- the record format ------------------------------------------------- */

static uint32_t crc_table[256];

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1; /* Castagnoli, reflected */
		crc_table[i] = c;
	}
}

uint32_t
spool_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (crc_table[1] == 0)
		crc_init();
	crc = ~crc;
	while (len-- > 0)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void
spool_record_header(unsigned char hdr[SPOOL_HEADER], const void *payload, size_t len)
{
	memcpy(hdr, SPOOL_MAGIC, 4);
	put32(hdr + 4, (uint32_t)len);
	put32(hdr + 8, spool_crc32c(spool_crc32c(0, hdr + 4, 4), payload, len));
}

enum spool_rec
spool_record_parse(const unsigned char *buf, size_t len, const unsigned char **payload,
    size_t *plen, size_t *reclen)
{
	size_t n;

	if (memcmp(buf, SPOOL_MAGIC, len < 4 ? len : 4) != 0)
		return SPOOL_REC_BAD;
	if (len < SPOOL_HEADER)
		return SPOOL_REC_SHORT;
	n = get32(buf + 4);
	if (n > SPOOL_RECORD_MAX)
		return SPOOL_REC_BAD;
	if (len - SPOOL_HEADER < n)
		return SPOOL_REC_SHORT;
	if (spool_crc32c(spool_crc32c(0, buf + 4, 4), buf + SPOOL_HEADER, n) != get32(buf + 8))
		return SPOOL_REC_BAD;
	*payload = buf + SPOOL_HEADER;
	*plen = n;
	*reclen = SPOOL_HEADER + n;
	return SPOOL_REC_OK;
}

size_t
spool_next(const unsigned char *buf, size_t len, size_t off, size_t *skipped)
{
	size_t start = off, plen, reclen;
	const unsigned char *payload, *m;

	while (off < len &&
	    spool_record_parse(buf + off, len - off, &payload, &plen, &reclen) != SPOOL_REC_OK) {
		m = len - off > 1 ? memmem(buf + off + 1, len - off - 1, SPOOL_MAGIC, 4) : NULL;
		off = m != NULL ? (size_t)(m - buf) : len;
	}
	*skipped = off - start;
	return off;
}

void
spool_scan(const unsigned char *buf, size_t len, size_t from, struct spool_scan *out)
{
	size_t off = from, plen, reclen, skipped, next;
	const unsigned char *payload;

	memset(out, 0, sizeof(*out));
	out->end = from < len ? from : len;
	while (off < len) {
		if (spool_record_parse(buf + off, len - off, &payload, &plen, &reclen) ==
		    SPOOL_REC_OK) {
			out->records++;
			off += reclen;
			out->end = off;
			continue;
		}
		next = spool_next(buf, len, off, &skipped);
		if (next >= len) {
			out->torn = len - off;
			break;
		}
		out->skipped += skipped;
		off = next;
	}
}

json_t *
spool_element_load(const unsigned char *payload, size_t len)
{
	json_t *el = json_loadb((const char *)payload, len, 0, NULL), *ev;

	if (el == NULL)
		return NULL;
	ev = json_object_get(el, "ev");
	if (!json_is_object(el) || !json_is_object(ev) || !json_is_string(json_object_get(ev, "id"))) {
		json_decref(el);
		return NULL;
	}
	return el;
}

/* --- files ------------------------------------------------------------- */

static int
map_file(struct spool *sp)
{
	if (sp->map_len == sp->synced)
		return 0;
	if (sp->map != NULL)
		munmap(sp->map, sp->map_len);
	sp->map = NULL;
	sp->map_len = 0;
	if (sp->synced == 0)
		return 0;
	sp->map = mmap(NULL, sp->synced, PROT_READ, MAP_SHARED, sp->fd, 0);
	if (sp->map == MAP_FAILED) {
		sp->map = NULL;
		log_error("spool: cannot map %s: %s", DATA_FILE, strerror(errno));
		return -1;
	}
	sp->map_len = sp->synced;
	return 0;
}

static size_t
read_pos(struct spool *sp)
{
	char buf[32], *end;
	unsigned long long v;
	ssize_t n;
	int fd = openat(sp->dirfd, POS_FILE, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (n <= 0 || errno != 0 || end == buf || *end != '\n') {
		log_warn("spool: %s is not a position; replaying from the start (ids make that "
		    "safe)", POS_FILE);
		return 0;
	}
	return (size_t)v;
}

static int
write_pos(struct spool *sp, size_t pos)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%zu\n", pos), fd, ok;

	fd = openat(sp->dirfd, POS_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = write(fd, buf, (size_t)n) == n && fdatasync(fd) == 0;
	ok &= close(fd) == 0;
	if (!ok || renameat(sp->dirfd, POS_TMP, sp->dirfd, POS_FILE) != 0)
		return -1;
	return fsync(sp->dirfd);
}

static int
open_files(struct spool *sp, const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto fail;
	if ((sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto fail;
	sp->fd = openat(sp->dirfd, DATA_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->fd < 0)
		goto fail;
	if (flock(sp->fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "spool: %s/%s: %s", dir, DATA_FILE, errno == EWOULDBLOCK ?
		    "another hotline111d uses this spool" : strerror(errno));
		return -1;
	}
	if (fstat(sp->fd, &st) != 0 || fsync(sp->dirfd) != 0)
		goto fail;
	sp->size = sp->synced = (size_t)st.st_size;
	return 0;
fail:
	snprintf(err, errlen, "spool: %s: %s", dir, strerror(errno));
	return -1;
}

/* What the file holds: a torn last record (a crash while it was written,
 * so never acknowledged) is cut off; damage between records is reported
 * and will be skipped by the replay. */
static int
check_file(struct spool *sp, char *err, size_t errlen)
{
	struct spool_scan all, todo;

	if (map_file(sp) != 0) {
		snprintf(err, errlen, "spool: cannot read %s: %s", DATA_FILE, strerror(errno));
		return -1;
	}
	spool_scan(sp->map, sp->map_len, 0, &all);
	if (all.torn > 0) {
		log_error("spool: a torn last record at offset %zu (%zu bytes, never acknowledged): "
		    "cut off", all.end, all.torn);
		if (ftruncate(sp->fd, (off_t)all.end) != 0 || fdatasync(sp->fd) != 0) {
			snprintf(err, errlen, "spool: cutting off a torn record: %s", strerror(errno));
			return -1;
		}
		sp->size = sp->synced = all.end;
		map_file(sp);
	}
	if (all.skipped > 0)
		log_error("spool: %zu damaged bytes between records; the replay skips them",
		    all.skipped);
	sp->pos = read_pos(sp);
	if (sp->pos > sp->synced) {
		log_warn("spool: position %zu past the end (%zu); replaying from the start",
		    sp->pos, sp->synced);
		sp->pos = 0;
	}
	spool_scan(sp->map, sp->map_len, sp->pos, &todo);
	sp->records = todo.records;
	return 0;
}

struct spool *
spool_open(const char *dir, size_t max_bytes, char *err, size_t errlen)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));

	sp->dirfd = sp->fd = -1;
	sp->max_bytes = max_bytes;
	if (open_files(sp, dir, err, errlen) != 0 || check_file(sp, err, errlen) != 0) {
		spool_close(sp);
		return NULL;
	}
	if (sp->records > 0)
		log_info("spool: %zu events (%zu bytes) wait to be replayed", sp->records,
		    sp->synced - sp->pos);
	return sp;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->map != NULL)
		munmap(sp->map, sp->map_len);
	if (sp->fd >= 0)
		close(sp->fd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	free(sp);
}

/* --- appending --------------------------------------------------------- */

static int
write_all(int fd, struct iovec *iov, int n, off_t at)
{
	while (n > 0) {
		ssize_t w = pwritev(fd, iov, n, at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		at += w;
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Back to what is durable; what was written after it is dropped. */
static void
roll_back(struct spool *sp)
{
	if (ftruncate(sp->fd, (off_t)sp->synced) != 0)
		log_error("spool: cutting back to %zu bytes: %s", sp->synced, strerror(errno));
	sp->size = sp->synced;
	sp->unsynced = 0;
}

enum spool_append_rc
spool_append(struct spool *sp, const void *payload, size_t len)
{
	unsigned char hdr[SPOOL_HEADER];
	struct iovec iov[2] = { { hdr, SPOOL_HEADER }, { (void *)payload, len } };

	if (len > SPOOL_RECORD_MAX || sp->size + SPOOL_HEADER + len > sp->max_bytes)
		return SPOOL_FULL;
	spool_record_header(hdr, payload, len);
	if (write_all(sp->fd, iov, 2, (off_t)sp->size) != 0) {
		log_error("spool: writing %s: %s", DATA_FILE, strerror(errno));
		roll_back(sp);
		return SPOOL_FAILED;
	}
	sp->size += SPOOL_HEADER + len;
	sp->unsynced++;
	return SPOOL_APPENDED;
}

int
spool_sync(struct spool *sp)
{
	if (sp->size == sp->synced)
		return 0;
	if (fdatasync(sp->fd) != 0) {
		log_error("spool: fdatasync of %s: %s", DATA_FILE, strerror(errno));
		roll_back(sp);
		return -1;
	}
	sp->synced = sp->size;
	sp->records += sp->unsynced;
	sp->unsynced = 0;
	return 0;
}

/* --- replaying --------------------------------------------------------- */

int
spool_read(struct spool *sp, size_t *off, const unsigned char **payload, size_t *plen)
{
	size_t at = *off != 0 ? *off : sp->pos, skipped, reclen;

	if (at >= sp->synced || map_file(sp) != 0)
		return 0;
	at = spool_next(sp->map, sp->map_len, at, &skipped);
	if (skipped > 0)
		log_error("spool: %zu damaged bytes at offset %zu skipped", skipped, at - skipped);
	if (at >= sp->map_len) {
		*off = at;
		return 0;
	}
	spool_record_parse(sp->map + at, sp->map_len - at, payload, plen, &reclen);
	*off = at + reclen;
	return 1;
}

/* Everything replayed: the position goes first, so a crash in between
 * replays it all again (as dups) rather than skipping what comes next. */
static int
spool_empty(struct spool *sp)
{
	if ((unlinkat(sp->dirfd, POS_FILE, 0) != 0 && errno != ENOENT) || fsync(sp->dirfd) != 0)
		return -1;
	if (sp->map != NULL)
		munmap(sp->map, sp->map_len);
	sp->map = NULL;
	sp->map_len = 0;
	if (ftruncate(sp->fd, 0) != 0 || fdatasync(sp->fd) != 0)
		return -1;
	sp->size = sp->synced = sp->pos = 0;
	sp->records = 0;
	return 0;
}

int
spool_replayed(struct spool *sp, size_t off, size_t n)
{
	sp->pos = off;
	sp->records = n < sp->records ? sp->records - n : 0;
	if (sp->pos >= sp->synced && sp->size == sp->synced) {
		if (spool_empty(sp) == 0)
			return 0;
	} else if (write_pos(sp, sp->pos) == 0)
		return 0;
	log_error("spool: keeping the replay position: %s (what was replayed may be sent "
	    "again, as dups)", strerror(errno));
	return -1;
}

size_t
spool_records(const struct spool *sp)
{
	return sp->records;
}

size_t
spool_bytes(const struct spool *sp)
{
	return sp->synced;
}

size_t
spool_max_bytes(const struct spool *sp)
{
	return sp->max_bytes;
}
