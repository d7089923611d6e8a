/*
 * evq.h — the simulator's event queue: a binary min-heap of timed events.
 *
 * Events are ordered by virtual time (ns) and, among events of the same time, by the order
 * in which they were pushed (a sequence number the queue assigns).  Nothing else takes part
 * in the order (no pointer value, no hash), so a run is repeatable bit for bit.
 *
 * The queue is shared by the fabric, the hosts and the world loop; each owns a range of
 * event types (SIM_EV_*_BASE below) and handles only its own.
 */
#ifndef SIM_EVQ_H
#define SIM_EVQ_H

#include <stddef.h>
#include <stdint.h>

/* Event type ranges: the owner of a type is type & ~0xff. */
#define SIM_EV_FABRIC_BASE 0x100 /* fabric.c: packet stages */
#define SIM_EV_HOST_BASE 0x200   /* host.c: NIC serialization done, engine timer */
#define SIM_EV_WORLD_BASE 0x300  /* sim.c: scenario callbacks (sim_at) */
#define SIM_EV_NET_BASE 0x400    /* net.c: packet hops and link schedules of a topology */
#define SIM_EV_USER_BASE 0x1000  /* free for tests and other drivers */

/* Owner range of an event type (one of the SIM_EV_*_BASE values, or above for users). */
static inline int sim_ev_owner(int type)
{
	return type & ~0xff;
}

/* One event. */
struct sim_event {
	uint64_t time_ns; /* virtual time at which it fires */
	uint64_t seq;     /* push order, assigned by the queue: breaks ties in time */
	int type;         /* what it is (a SIM_EV_* type of its owner) */
	int a;            /* owner's argument (e.g. packet slot, host number) */
	int b;            /* owner's second argument (e.g. generation) */
	void *p;          /* owner's pointer argument (never used for ordering) */
};

struct sim_evq;

/* Create an empty queue in *out.  Returns 0, or -ENOMEM. */
int sim_evq_create(struct sim_evq **out);

/* Free the queue and its storage (the events' p pointers are not touched).  NULL is
 * ignored. */
void sim_evq_destroy(struct sim_evq *q);

/*
 * Add an event firing at time_ns; it gets the next sequence number, so it fires after every
 * event already queued for the same time.  The heap grows by doubling (realloc).
 * Returns 0, or -ENOMEM (the queue is unchanged).
 */
int sim_evq_push(struct sim_evq *q, uint64_t time_ns, int type, int a, int b, void *p);

/* Remove the earliest event (smallest time, then smallest seq) into *out.
 * Returns 0, or -ENOENT if the queue is empty (*out untouched). */
int sim_evq_pop(struct sim_evq *q, struct sim_event *out);

/* Time of the earliest event, or UINT64_MAX if the queue is empty. */
uint64_t sim_evq_peek_time(const struct sim_evq *q);

/* Number of events queued. */
size_t sim_evq_size(const struct sim_evq *q);

/* Number of events ever pushed (the next sequence number). */
uint64_t sim_evq_pushed(const struct sim_evq *q);

#endif /* SIM_EVQ_H */
