/*
 * srd_barrier.h — every memory-ordering operation of the shared-memory channel, in one
 * place.  Each ring has one producer and one consumer, in different processes:
 *
 *   producer: write the entry, then srd_store_release(&ring->tail, tail + 1)
 *             pairs with the consumer's srd_load_acquire(&ring->tail): the entry's bytes
 *             are visible before the new tail is.
 *   consumer: read the entry, then srd_store_release(&ring->head, head + 1)
 *             pairs with the producer's srd_load_acquire(&ring->head): the consumer is done
 *             reading a slot before the producer may overwrite it.
 *   producer with streaming stores (the daemon writes CQ entries with x86 non-temporal
 *             stores, which are weakly ordered even against a later release store):
 *             write the entries, srd_fence_stream(), then srd_store_release(&tail): the
 *             fence makes the entries visible before the tail, as the release alone does
 *             for ordinary stores.
 *   waiter:   srd_store_release(&hdr->app_waiting, 1), then a full fence
 *             (srd_fence_seq_cst), then re-check the ring before sleeping on the eventfd;
 *             pairs with the notifier's fence between publishing a completion and reading
 *             app_waiting, so that no wakeup is lost.
 */
#ifndef SRD_BARRIER_H
#define SRD_BARRIER_H

#include <stdint.h>

static inline uint32_t srd_load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void srd_store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint32_t srd_load_relaxed(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Orders earlier non-temporal (streaming) stores before later stores: SFENCE on x86, where
 * streaming stores exist; elsewhere a release fence (the producer's ordinary stores need
 * no more than its release store). */
static inline void srd_fence_stream(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("sfence" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

static inline void srd_fence_seq_cst(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#endif /* SRD_BARRIER_H */
