/*
 * spool.h: the local spool. While PostgreSQL is unreachable, events are
 * appended to one file in spool.dir, one framed record each, and made
 * durable (fdatasync) before they are acknowledged. When the database
 * returns they are read back in order; the position replayed is kept in a
 * file beside it, so a crash during the replay resumes where it was (event
 * ids make a record sent twice harmless).
 *
 * A record: "h1s1", the payload's length (4 bytes, little-endian), the
 * CRC-32C of those 4 length bytes and the payload (4 bytes, little-endian),
 * then the payload: one batch element of the store, compact JSON.
 */
#ifndef HOTLINE111_SPOOL_H
#define HOTLINE111_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SPOOL_MAGIC "h1s1"
#define SPOOL_HEADER 12
#define SPOOL_RECORD_MAX (32u * 1024 * 1024) /* payload bytes */

/* --- the record format (no files: for tests and the fuzzer too) -------- */

enum spool_rec {
	SPOOL_REC_OK,    /* a whole record */
	SPOOL_REC_SHORT, /* the buffer ends inside it: torn, if at the end */
	SPOOL_REC_BAD,   /* not a record: wrong magic, length or checksum */
};

uint32_t spool_crc32c(uint32_t crc, const void *buf, size_t len);
/* Fills a record's header for payload; its length must be at most
 * SPOOL_RECORD_MAX. */
void spool_record_header(unsigned char hdr[SPOOL_HEADER], const void *payload, size_t len);
/* The record at the start of buf: its payload and its whole length. */
enum spool_rec spool_record_parse(const unsigned char *buf, size_t len,
    const unsigned char **payload, size_t *plen, size_t *reclen);
/* The offset of the first whole record at or after off, or len when there
 * is none; *skipped is how many bytes were not records on the way. */
size_t spool_next(const unsigned char *buf, size_t len, size_t off, size_t *skipped);

struct spool_scan {
	size_t records; /* whole records from the start offset on */
	size_t end;     /* where the last whole record ends */
	size_t skipped; /* damaged bytes between whole records */
	size_t torn;    /* bytes after the last whole record */
};
void spool_scan(const unsigned char *buf, size_t len, size_t from, struct spool_scan *out);

/* A record's payload as the store's batch element: an object whose "ev" is
 * an object with a string "id"; NULL for anything else. */
json_t *spool_element_load(const unsigned char *payload, size_t len);

/* --- the spool directory ---------------------------------------------- */

struct spool;

enum spool_append_rc { SPOOL_APPENDED, SPOOL_FULL, SPOOL_FAILED };

/* Opens (creating) DIR/spool.dat, locked against a second daemon; a torn
 * last record is reported and cut off. NULL with err. */
struct spool *spool_open(const char *dir, size_t max_bytes, char *err, size_t errlen);
void spool_close(struct spool *sp);
/* Appends a record, durable only after spool_sync. */
enum spool_append_rc spool_append(struct spool *sp, const void *payload, size_t len);
/* Makes what was appended durable: 0; -1 and it is all dropped again. */
int spool_sync(struct spool *sp);
/* The next record to replay after *off (0: from the replay position), its
 * payload valid until the next call that changes the spool; 1, or 0 when
 * there is none. *off becomes the end of the record read. */
int spool_read(struct spool *sp, size_t *off, const unsigned char **payload, size_t *plen);
/* n records up to off are in the database: 0, or -1 when the position
 * could not be kept (they will be replayed again, as dups). */
int spool_replayed(struct spool *sp, size_t off, size_t n);
size_t spool_records(const struct spool *sp); /* waiting to be replayed */
size_t spool_bytes(const struct spool *sp);   /* the file's size */
size_t spool_max_bytes(const struct spool *sp);

#endif
