/*
 * srd_copy.h — the payload copies into a shared region's buffers: memcpy, or non-temporal
 * ("streaming") stores, and a choice between the two by what each costs where it runs.
 *
 * A buffer of the region is written by one side and read by the other (the sending app's
 * bounce buffer by srdd's worker, srdd's receive buffer by the receiving app), then reused.
 * An ordinary store first takes its line for itself (a read for ownership); when the
 * reader's core still holds the line from its last read, that is a round trip to the
 * reader's cache.  Between two cores of one L3 it is cheap; between two L3 domains (a VM
 * whose vCPUs the host places on different core complexes, which it may change by the
 * minute) every line waits for it, and a copy of 1 MiB into lines the other side has just
 * read takes 300-430 us instead of 22-40.  A non-temporal store replaces the line wherever
 * it is, without reading it (40-45 us per MiB in either case), but leaves it in no cache:
 * the reader then reads it from memory, which near costs the reader more than the writer
 * saves.  So large copies pick their way by timing it: mostly the way in use, sometimes
 * the other, and the cheaper wins (srd_copy_picked).
 *
 * Every size from SRD_COPY_PICK_MIN picks, however large.  (Messages of 4 MiB or more used
 * to stream always, as larger than a core's cache share; on a host whose L3 holds them, 480
 * MiB here, that cost srd-perf bw 16 MiB 48 Gbit/s against 88 when srdd picks, and the
 * provider's 16 MiB stream 35.5 against 38.5.  Where the lines are evicted before they are read,
 * a memcpy pays for reading each one first, and the timing sees it.)  glibc's memcpy itself
 * switches to streaming stores only above a threshold it derives from the cache size.  The
 * stores are the compiler's SSE2 intrinsics; without SSE2 every copy is memcpy.
 */
#ifndef SRD_COPY_H
#define SRD_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRD_COPY_PICK_MIN (64u << 10)   /* messages this long or longer pick their way */
#define SRD_COPY_PICK_CHUNK (16u << 10) /* the unit a caller copying a whole message in one
                                           call picks for (srd_copy_picked_chunks) */

/* How the copies of one writer into one reader's buffers go (all of it the writer's). */
struct srd_copy_pick {
	uint64_t cost[2];  /* moving average of the time per KiB (TSC ticks) of each way:
	                      [0] memcpy, [1] streaming stores; 0 until first timed */
	uint64_t chunks;   /* copies made (the timed and the trial ones are every Nth) */
	uint64_t switches; /* times the way changed (a debugger's or a test's figure) */
	uint8_t stream;    /* the way in use: 1 streaming stores, 0 memcpy */
	uint8_t above;     /* stream while memcpy costs more than `above` halves of what
	                      streaming costs (srd_copy_pick_init) */
};

/* Start p with memcpy.  reader_reads_all: the reader of every buffer reads all of it (srdd
 * reads every byte of a send to build its packets): streaming wins from twice the cost.
 * Otherwise (what srdd places, which srd-perf's apps never read) from 4.5 times: a memcpy
 * into lines no cache holds, which is what a trial finds after streaming stores when
 * nobody reads the buffer, costs about 4 times, and must not keep the streaming stores on
 * (memcpy keeps such a buffer in the writer's cache, and the streaming stores cost more
 * than their own time shows: srd-perf bw 1 MiB made 60-70 Gbit/s instead of 100 with srdd
 * streaming them). */
void srd_copy_pick_init(struct srd_copy_pick *p, bool reader_reads_all);

/* memcpy(dst, src, len) with the bulk stored non-temporally, then fenced: the stores are
 * visible before anything stored after the call (the hand-over of the buffer). */
void srd_copy_stream(void *dst, const void *src, size_t len);

/* Copy len bytes (one chunk of a large message: a packet's payload, a piece of a send)
 * the way p uses now.  Every 16th copy is timed, every 256th is made the other way and
 * timed.  Streaming is used while memcpy's average costs more than p's threshold times
 * streaming's (srd_copy_pick_init): a memcpy into lines a reader in another L3 domain
 * holds costs 3-16 times as much, one into lines of the same L3 about as much. */
void srd_copy_picked(struct srd_copy_pick *p, void *dst, const void *src, size_t len);

/* Fold one timed copy of len bytes made one way (stream: with streaming stores) that took
 * `ticks` into p's averages (a sample more than 4 times the way's average counts as 4
 * times: an interrupt inside the copy), and change p's way if the averages say so.
 * srd_copy_picked calls it; a test may too. */
void srd_copy_pick_note(struct srd_copy_pick *p, bool stream, uint64_t ticks, size_t len);

/* srd_copy_picked over len bytes in chunks of SRD_COPY_PICK_CHUNK. */
void srd_copy_picked_chunks(struct srd_copy_pick *p, void *dst, const void *src, size_t len);

#endif /* SRD_COPY_H */
