/*
 * dp_worker.c — the poll-mode worker loop (see dp_worker.h).
 */
#include "dp_worker_int.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "dp_impair.h"
#include "dp_log.h"
#include "dp_telemetry.h"

#define DP_TX_PER_LOOP 128u     /* packets the engines may produce per port per iteration */
#define DP_LINK_POLL_NS 100000000ull   /* 100 ms */
#define DP_CONTROL_POLL_NS 1000000ull  /* 1 ms: control sockets when busy */
#define DP_DEFERRED_POLL_NS 100000ull  /* 100 µs: failed sends waiting for their frames */
#define DP_SPIN_YIELD_NS 2000u         /* adaptive spin: the CPU is offered this often */

/* ---- time ---- */

/* ns in d TSC ticks: a multiply by w->ns_per_tsc_q32 (the worker reads the clock several
 * times per loop; the three 64-bit divisions of d / hz * 1e9 + d % hz * 1e9 / hz cost
 * more than the rest of a loop that finds no work).  Off by less than 1e-9 of d. */
static uint64_t tsc_ns(const struct dp_worker *w, uint64_t d)
{
	__extension__ typedef unsigned __int128 u128;

	return (uint64_t)(((u128)d * w->ns_per_tsc_q32) >> 32);
}

uint64_t dp_worker_tsc_to_ns(const struct dp_worker *w, uint64_t tsc)
{
	return tsc_ns(w, tsc - w->tsc0);
}

/* Read the clock (w->now) at tsc, at the top of an iteration and wherever one reads it
 * again.  A clock DP_PAUSE_NS or more past when the thread was due means it did not run for
 * that long (it lost its CPU, or srdd was stopped): the engines are told before they see
 * the new time, so connections that heard nothing meanwhile are not idle for it.  Every
 * read goes through here: a stop that lands inside an iteration, between two reads, would
 * otherwise reach the engines served later in that iteration as 800 ms of silence. */
static void read_clock(struct dp_worker *w, uint64_t tsc)
{
	w->now = dp_worker_tsc_to_ns(w, tsc);
	if (w->due_ns && w->now >= w->due_ns + DP_PAUSE_NS) {
		w->st.pauses++;
		for (uint32_t i = 0; i < w->nports; i++)
			srd_note_pause(w->wp[i].eng, w->now, w->now - w->due_ns);
	}
	w->due_ns = w->now;
}

/* ---- receive ---- */

static void send_frame(struct dp_wport *wp, struct rte_mbuf *m);

/* Answer an ARP request for us, and learn from any ARP packet for us.  reply: 0 for a copy
 * another worker received (and answered). */
static void handle_arp(struct dp_wport *wp, const struct dp_rx_info *info, int reply)
{
	struct dp_worker *w = wp->w;
	struct rte_mbuf *m;

	if (reply)
		w->st.rx_arp++; /* a copy from another worker was counted there */
	if (info->arp_tpa != wp->port->cfg->ipv4)
		return;
	dp_neigh_learn(&wp->neigh, info->arp_spa, info->arp_sha, w->now);
	if (info->arp_op != 1 || !reply)
		return;
	m = rte_pktmbuf_alloc(wp->port->pool);
	if (!m) {
		w->st.tx_no_mbuf++;
		return;
	}
	dp_net_arp_reply((uint8_t *)rte_pktmbuf_append(m, DP_ARP_FRAME_LEN), wp->port->mac,
			 wp->port->cfg->ipv4, info->arp_sha, info->arp_spa);
	w->st.arp_replies++;
	send_frame(wp, m);
}

/* Queue the frames staged for worker `to` into its inbox, one burst; what does not fit is
 * dropped and counted (the core resends). */
static void steer_flush_one(struct dp_worker *w, uint32_t to)
{
	uint16_t n = w->noutbox[to];
	unsigned sent;

	if (n == 0)
		return;
	sent = rte_ring_mp_enqueue_burst(w->inboxes[to], (void **)w->outbox[to], n, NULL);
	w->st.steered_out += sent;
	w->st.steer_drops += n - sent;
	if (sent < n)
		rte_pktmbuf_free_bulk(w->outbox[to] + sent, n - sent);
	w->noutbox[to] = 0;
}

static void steer_flush(struct dp_worker *w)
{
	for (uint32_t k = 0; k < w->nworkers; k++)
		steer_flush_one(w, k);
}

/* Hand frame m to worker `to` (m->port names its port): staged, then queued to its inbox
 * with the others of the burst, which takes over the reference.  A worker this daemon does
 * not run (a peer key made up from a forged source port): dropped and counted. */
static void steer(struct dp_worker *w, uint32_t to, struct rte_mbuf *m)
{
	if (to >= w->nworkers || !w->inboxes[to]) {
		w->st.steer_drops++;
		rte_pktmbuf_free(m);
		return;
	}
	w->outbox[to][w->noutbox[to]++] = m;
	if (w->noutbox[to] == RTE_DIM(w->outbox[to]))
		steer_flush_one(w, to);
}

/* Copy an ARP frame to every other worker (they learn from it; this one answers). */
static void share_arp(struct dp_wport *wp, struct rte_mbuf *m)
{
	struct dp_worker *w = wp->w;

	m->port = wp->port->port_id; /* once: other workers read it as soon as it is queued */
	for (uint32_t k = 0; k < w->nworkers; k++) {
		if (k == w->index)
			continue;
		rte_mbuf_refcnt_update(m, 1); /* read-only from here on: one reference each */
		steer(w, k, m);
	}
}

/*
 * Frame m is in segments: read it in place when it has two and the first holds all that
 * parsing reads (dp_net_headers_suffice: the frames srdd builds from an app's bytes, which
 * the crossed pair and the inboxes carry as they were sent; *data and *first its first
 * segment, *rest the second, *len the whole), else joined into the worker's buffer.
 * Returns 0, or -1 for a chain longer than any frame (counted).  Out of line: the one-
 * segment path stays as short as it was.
 */
static __rte_noinline int rx_segments(struct dp_worker *w, const struct rte_mbuf *m,
				      unsigned csum_checked, const uint8_t **data,
				      uint32_t *len, uint32_t *first, const uint8_t **rest)
{
	if (m->nb_segs == 2 && dp_net_headers_suffice(*data, rte_pktmbuf_data_len(m),
						      csum_checked)) {
		*rest = rte_pktmbuf_mtod(m->next, const uint8_t *);
		*len = rte_pktmbuf_pkt_len(m);
		return 0;
	}
	if (rte_pktmbuf_pkt_len(m) > DP_RX_JOIN_MAX) {
		w->st.rx_drops[DP_DROP_BAD_IP]++; /* longer than any IPv4 datagram */
		return -1;
	}
	*data = rte_pktmbuf_read(m, 0, rte_pktmbuf_pkt_len(m), w->rx_join);
	*len = *first = rte_pktmbuf_pkt_len(m);
	w->st.rx_joined++;
	return 0;
}

/* Handle one received frame of port wp (from its queue, or from the inbox when
 * from_inbox: then it was checked against the same port by another worker, and an ARP
 * request was answered there).  Returns 1 if the caller is to free m, 0 if it was handed
 * on to another worker. */
static int rx_frame(struct dp_wport *wp, struct rte_mbuf *m, int from_inbox)
{
	struct dp_worker *w = wp->w;
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *), *rest = NULL;
	uint32_t len = rte_pktmbuf_data_len(m), first = len;
	struct dp_rx_info info;
	int rc;

	/* checksums the NIC says it verified need not be checked again, nor those of a frame
	 * another worker checked (or built) before handing it over */
	if (from_inbox)
		wp->local.csum_checked = DP_CSUM_IP_OFFLOAD | DP_CSUM_UDP_OFFLOAD;
	else
		wp->local.csum_checked =
			((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD ?
				 DP_CSUM_IP_OFFLOAD : 0) |
			((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD ?
				 DP_CSUM_UDP_OFFLOAD : 0);
	if (unlikely(m->nb_segs > 1) &&
	    rx_segments(w, m, wp->local.csum_checked, &data, &len, &first, &rest) != 0)
		return 1;
	rc = dp_net_parse(data, len, &wp->local, &info);
	if (rc == DP_RX_SRD) {
		uint32_t owner = info.flow.dst_port - w->cfg->udp_port;
		uint64_t peer = dp_peer_key(info.flow.src_ip,
					    (uint32_t)dp_src_port_worker(info.flow.src_port));

		if (owner != w->index && !from_inbox) {
			m->port = wp->port->port_id;
			steer(w, owner, m); /* parse checked owner < nworkers */
			return 0;
		}
		w->st.rx_srd++;
		if (likely(!rest)) {
			srd_recv(wp->eng, w->now, peer, data + info.off, info.len,
				 info.flow.ecn == DP_ECN_CE);
		} else {
			/* parse checked the datagram within the frame: what is not in the first
			 * segment is in the second */
			uint32_t here = first - info.off < info.len ? first - info.off : info.len;

			srd_recv_split(wp->eng, w->now, peer, data + info.off, here, rest,
				       info.len - here, info.flow.ecn == DP_ECN_CE);
		}
	} else if (rc == DP_RX_ARP) {
		handle_arp(wp, &info, !from_inbox);
		if (!from_inbox && w->nworkers > 1)
			share_arp(wp, m);
	} else if (-rc > 0 && -rc < DP_DROP_MAX) {
		w->st.rx_drops[-rc]++;
	}
	return 1;
}

static int rx_port(struct dp_wport *wp)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint16_t n = rte_eth_rx_burst(wp->port->port_id, wp->queue, pkts, DP_BURST), nfree = 0;

	wp->w->st.rx_pkts += n;
	if (unlikely(wp->w->cap.sess != NULL) && n)
		dp_capture_frames(wp->w, wp, pkts, n, DP_CAPTURE_IN);
	for (uint16_t i = 0; i < n; i++)
		if (rx_frame(wp, pkts[i], 0))
			pkts[nfree++] = pkts[i]; /* done with: freed together below */
	rte_pktmbuf_free_bulk(pkts, nfree);
	steer_flush(wp->w);
	return n;
}

/* The worker's side of the port with this ethdev id, or NULL. */
static struct dp_wport *wport_by_id(struct dp_worker *w, uint16_t port_id)
{
	for (uint32_t i = 0; i < w->nports; i++)
		if (w->wp[i].port->port_id == port_id)
			return &w->wp[i];
	return NULL;
}

/* Frames other workers handed over. */
static int rx_inbox(struct dp_worker *w)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned n;

	if (!w->inbox)
		return 0;
	n = rte_ring_sc_dequeue_burst(w->inbox, (void **)pkts, DP_BURST, NULL);
	w->st.steered_in += n;
	for (unsigned i = 0; i < n; i++) {
		struct dp_wport *wp = wport_by_id(w, pkts[i]->port);

		if (!wp || rx_frame(wp, pkts[i], 1)) /* no port: cannot happen, every worker has
						          every port */
			rte_pktmbuf_free(pkts[i]);
	}
	return (int)n;
}

/* ---- transmit ---- */

/* Give frames to the port; what it does not take waits in the backlog (only what does
 * not fit there either is freed: the core resends it). */
static void port_tx(struct dp_wport *wp, struct rte_mbuf **pkts, uint16_t n)
{
	struct dp_worker *w = wp->w;
	uint16_t sent = 0;

	if (!wp->link_up) {
		w->st.tx_link_down += n;
		rte_pktmbuf_free_bulk(pkts, n);
		return;
	}
	/* captured once, as the port gets them (the backlog sends later what it keeps) */
	if (unlikely(w->cap.sess != NULL) && n)
		dp_capture_frames(w, wp, pkts, n, DP_CAPTURE_OUT);
	if (wp->nbacklog == 0)
		sent = rte_eth_tx_burst(wp->port->port_id, wp->queue, pkts, n);
	w->st.tx_pkts += sent;
	if (sent == n)
		return;
	w->st.tx_full += n - sent;
	while (sent < n && wp->nbacklog < DP_WORKER_BACKLOG)
		wp->backlog[wp->nbacklog++] = pkts[sent++];
	if (sent < n)
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
}

/* Retry the backlog.  Returns how many frames went; the backlog is empty afterwards only
 * if the port took them all. */
static int flush_backlog(struct dp_wport *wp)
{
	uint16_t sent;

	if (wp->nbacklog == 0)
		return 0;
	if (!wp->link_up) {
		wp->w->st.tx_link_down += wp->nbacklog;
		rte_pktmbuf_free_bulk(wp->backlog, wp->nbacklog);
		wp->nbacklog = 0;
		return 0;
	}
	sent = rte_eth_tx_burst(wp->port->port_id, wp->queue, wp->backlog, wp->nbacklog);
	if (sent && sent < wp->nbacklog)
		memmove(wp->backlog, wp->backlog + sent, (wp->nbacklog - sent) * sizeof(*wp->backlog));
	wp->nbacklog = (uint16_t)(wp->nbacklog - sent);
	wp->w->st.tx_pkts += sent;
	return sent;
}

/* Transmit frames (n <= DP_BURST), through the impairment stage when there is one; a
 * running capture records what the stage drops. */
static void tx_frames(struct dp_wport *wp, struct rte_mbuf **pkts, uint16_t n)
{
	struct dp_impair_drop dropped[DP_BURST];
	uint16_t nd;

	if (!wp->impair) {
		port_tx(wp, pkts, n);
		return;
	}
	if (likely(wp->w->cap.sess == NULL)) {
		dp_impair_enqueue(wp->impair, pkts, n, rte_rdtsc(), NULL);
		return;
	}
	nd = dp_impair_enqueue(wp->impair, pkts, n, rte_rdtsc(), dropped);
	if (nd)
		dp_capture_dropped(wp->w, wp, dropped, nd);
	for (uint16_t i = 0; i < nd; i++)
		rte_pktmbuf_free(dropped[i].m);
}

/* Release everything the impairment stage holds that is due (while the port takes it). */
static int tx_impaired(struct dp_wport *wp)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint64_t now = rte_rdtsc();
	int total = 0;
	uint16_t n;

	if (!wp->impair)
		return 0;
	do {
		if (wp->nbacklog)
			break;
		n = dp_impair_dequeue(wp->impair, pkts, DP_BURST, now);
		port_tx(wp, pkts, n);
		total += n;
	} while (n == DP_BURST);
	return total;
}

static void send_frame(struct dp_wport *wp, struct rte_mbuf *m)
{
	tx_frames(wp, &m, 1);
}

/* The destination MAC for ipv4, or -EAGAIN or -EHOSTUNREACH.  An ARP request goes out when
 * due: for an unknown neighbour, or one whose entry is near its end (refresh). */
static int resolve(struct dp_wport *wp, uint32_t dst, uint8_t mac[6])
{
	struct dp_worker *w = wp->w;
	uint32_t hop = dp_net_next_hop(wp->port->cfg, dst);
	int send_req = 0, rc;

	if (!hop) {
		w->st.tx_no_route++;
		return -EHOSTUNREACH;
	}
	rc = dp_neigh_lookup(&wp->neigh, hop, w->now, mac, &send_req);
	if (rc != 0)
		w->st.tx_no_neigh++;
	if (send_req) { /* unknown, or known and due a refresh */
		struct rte_mbuf *m = rte_pktmbuf_alloc(wp->port->pool);

		if (m) {
			dp_net_arp_request((uint8_t *)rte_pktmbuf_append(m, DP_ARP_FRAME_LEN),
					   wp->port->mac, wp->port->cfg->ipv4, hop);
			w->st.arp_requests++;
			send_frame(wp, m);
		} else {
			w->st.tx_no_mbuf++;
		}
	}
	return rc ? -EAGAIN : 0;
}

/* An mbuf for the next packet the engine may produce: from the port's spares, which are
 * taken from the pool a burst at a time (one at a time when the pool is too low for a
 * burst) and kept between iterations, so that an iteration that produces a few packets, or
 * none, costs the pool nothing. */
static struct rte_mbuf *tx_mbuf(struct dp_wport *wp)
{
	if (wp->nspare == 0) {
		if (rte_pktmbuf_alloc_bulk(wp->port->pool, wp->spare, DP_WORKER_SPARES) != 0)
			return rte_pktmbuf_alloc(wp->port->pool);
		wp->nspare = DP_WORKER_SPARES;
	}
	return wp->spare[--wp->nspare];
}

/* m, from tx_mbuf, was not used (its metadata untouched): a spare again. */
static void tx_mbuf_unused(struct dp_wport *wp, struct rte_mbuf *m)
{
	if (wp->nspare < DP_WORKER_SPARES)
		wp->spare[wp->nspare++] = m;
	else
		rte_pktmbuf_free(m);
}

/*
 * Send the ref_len payload bytes at ref, which the frame m (its headers and what the engine
 * wrote after them) goes on with, from where they are: a second segment attached to them
 * as an external buffer, which holds the app's region mapped until the port frees it
 * (dp_shm_frame_put).  Returns 0, or -1 if they are not an app's (the caller copies them).
 */
static __rte_noinline int tx_attach_ref(struct dp_wport *wp, struct rte_mbuf *m,
					 const void *ref, uint32_t ref_len)
{
	struct dp_shm_app *app = wp->w->shm ? dp_shm_send_area_app(wp->w->shm, ref, ref_len) :
					      NULL;
	struct rte_mbuf_ext_shared_info *shinfo;
	struct rte_mbuf *seg;

	if (!app || ref_len > UINT16_MAX)
		return -1;
	/* a spare if there is one (not tx_mbuf(): with one caller it stays inline in
	 * tx_port, where every packet takes it) */
	seg = wp->nspare ? wp->spare[--wp->nspare] : rte_pktmbuf_alloc(wp->port->pool);
	if (!seg)
		return -1;
	/* the segment's own data room is unused while it names the app's bytes: the shared
	 * info lives there */
	shinfo = RTE_PTR_ALIGN_CEIL(seg->buf_addr, _Alignof(struct rte_mbuf_ext_shared_info));
	shinfo->free_cb = dp_shm_frame_put;
	shinfo->fcb_opaque = dp_shm_frame_get(app);
	rte_mbuf_ext_refcnt_set(shinfo, 1);
	/* the ports that take such frames read them by virtual address (dp_port.c, tx_ref) */
	rte_pktmbuf_attach_extbuf(seg, (void *)(uintptr_t)ref, (rte_iova_t)(uintptr_t)ref,
				  (uint16_t)ref_len, shinfo);
	seg->data_len = (uint16_t)ref_len;
	m->next = seg;
	m->nb_segs = 2;
	m->pkt_len += ref_len;
	wp->w->st.tx_ref_frames++;
	return 0;
}

/* m, or if a segment of it names an app's bytes (tx_attach_ref), a copy in one piece of
 * its port's pool (m freed), counted in *ctx; m still if no mbuf was left. */
static struct rte_mbuf *unshare_frame(struct rte_mbuf *m, void *ctx)
{
	struct dp_wport *wp = ctx;
	struct rte_mbuf *copy;
	const struct rte_mbuf *seg;

	for (seg = m->next; seg; seg = seg->next)
		if (RTE_MBUF_HAS_EXTBUF(seg) && seg->shinfo->free_cb == dp_shm_frame_put)
			break;
	if (!seg)
		return m;
	copy = rte_pktmbuf_copy(m, wp->port->pool, 0, UINT32_MAX);
	if (!copy)
		return m; /* its failure waits for it to leave */
	rte_pktmbuf_free(m);
	wp->w->st.tx_ref_unshared++;
	return copy;
}

void dp_worker_unshare_held(struct dp_worker *w)
{
	for (uint32_t i = 0; i < w->nports; i++) {
		struct dp_wport *wp = &w->wp[i];

		for (uint16_t k = 0; k < wp->nbacklog; k++)
			wp->backlog[k] = unshare_frame(wp->backlog[k], wp);
		if (wp->impair)
			dp_impair_replace_held(wp->impair, unshare_frame, wp);
	}
}

/* Frame the packets the engine has for the wire, up to DP_TX_PER_LOOP. */
static int tx_port(struct dp_wport *wp)
{
	struct dp_worker *w = wp->w;
	struct rte_mbuf *burst[DP_BURST];
	uint32_t room = rte_pktmbuf_data_room_size(wp->port->pool) - RTE_PKTMBUF_HEADROOM;
	uint16_t nb = 0;
	int total = flush_backlog(wp);

	for (uint32_t i = 0; i < DP_TX_PER_LOOP && wp->nbacklog == 0; i++) {
		struct rte_mbuf *m = tx_mbuf(wp);
		struct srd_tx_meta meta;
		struct dp_flow flow;
		uint32_t dst_ip, dst_worker;
		uint8_t *frame;
		int len, hairpin;

		if (!m) {
			w->st.tx_no_mbuf++;
			break;
		}
		frame = rte_pktmbuf_mtod(m, uint8_t *);
		len = wp->port->tx_ref ? srd_poll_tx_ref(wp->eng, w->now, frame + DP_HDRS_LEN,
							 room - DP_HDRS_LEN, &meta) :
					 srd_poll_tx(wp->eng, w->now, frame + DP_HDRS_LEN,
						     room - DP_HDRS_LEN, &meta);
		if (len <= 0) {
			tx_mbuf_unused(wp, m);
			break;
		}
		total++;
		dst_ip = dp_peer_ip(meta.peer);
		dst_worker = dp_peer_worker(meta.peer);
		hairpin = dst_ip == wp->port->cfg->ipv4;
		if (hairpin && dst_worker == w->index) {
			/* for an endpoint of this worker on this very address: no wire would
			 * bring it back */
			w->st.hairpin++;
			srd_recv_split(wp->eng, w->now, meta.peer, frame + DP_HDRS_LEN,
				       (uint32_t)len, meta.ref, meta.ref_len, 0);
			rte_pktmbuf_free(m);
			continue;
		}
		if (hairpin) {
			memcpy(flow.dst_mac, wp->port->mac, 6); /* to another worker's inbox */
		} else if (resolve(wp, dst_ip, flow.dst_mac)) {
			tx_mbuf_unused(wp, m); /* the core resends it after its timeout */
			continue;
		}
		rte_pktmbuf_append(m, (uint16_t)(DP_HDRS_LEN + (uint32_t)len));
		if (meta.ref_len && tx_attach_ref(wp, m, meta.ref, meta.ref_len) != 0) {
			/* not an app's bytes, or no segment: copied after all (the engine left
			 * room for them) */
			memcpy(frame + DP_HDRS_LEN + len, meta.ref, meta.ref_len);
			rte_pktmbuf_append(m, (uint16_t)meta.ref_len);
			len += (int)meta.ref_len;
			meta.ref_len = 0;
		}
		memcpy(flow.src_mac, wp->port->mac, 6);
		flow.src_ip = wp->port->cfg->ipv4;
		flow.dst_ip = dst_ip;
		flow.src_port = dp_src_port(w->index, meta.entropy);
		flow.dst_port = (uint16_t)(w->cfg->udp_port + dst_worker);
		flow.ecn = meta.ect ? DP_ECN_ECT0 : DP_ECN_NOT_ECT;
		flow.ttl = 64;
		if (hairpin) {
			/* checksums in software: the frame never reaches a NIC */
			dp_net_build_ref(frame, &flow, (uint32_t)len, meta.ref, meta.ref_len, 0);
			w->st.hairpin++;
			m->port = wp->port->port_id;
			steer(w, dst_worker, m);
			continue;
		}
		dp_net_build_ref(frame, &flow, (uint32_t)len, meta.ref, meta.ref_len,
				 wp->port->csum_tx | wp->port->csum_none);
		if (wp->port->csum_tx) {
			m->l2_len = DP_ETH_HLEN;
			m->l3_len = DP_IP_HLEN;
			m->ol_flags |= RTE_MBUF_F_TX_IPV4;
			if (wp->port->csum_tx & DP_CSUM_IP_OFFLOAD)
				m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
			if (wp->port->csum_tx & DP_CSUM_UDP_OFFLOAD)
				m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
		}
		burst[nb++] = m;
		if (nb == DP_BURST) {
			tx_frames(wp, burst, nb);
			nb = 0;
			/* a burst can take long to hand over (net_af_packet: a kernel trip per
			 * frame): the next packets leave later, and an RTT measured from a stale
			 * send time would read as a queue */
			read_clock(w, rte_rdtsc());
		}
	}
	if (nb)
		tx_frames(wp, burst, nb);
	steer_flush(w); /* frames for another worker on this address */
	return total;
}

/* ---- the loop ---- */

/* Follow the ports' link state (worker 0 reads it from the devices; every worker applies
 * what changed to its side of the port). */
static void check_links(struct dp_worker *w)
{
	for (uint32_t i = 0; i < w->nports; i++) {
		struct dp_wport *wp = &w->wp[i];
		uint64_t changes;

		if (w->index == 0)
			dp_port_poll_link(wp->port);
		changes = __atomic_load_n(&wp->port->link_changes, __ATOMIC_RELAXED);
		if (changes == wp->link_changes_seen && wp->port->link_up == wp->link_up)
			continue;
		wp->link_changes_seen = changes;
		wp->link_up = wp->port->link_up;
		if (wp->link_up)
			dp_neigh_flush(&wp->neigh); /* the neighbours may have moved meanwhile */
		if (w->index != 0)
			continue;
		w->st.link_changes++;
		DP_LOG(NOTICE, "port %s: link %s", wp->port->cfg->name, wp->link_up ? "up" : "down");
	}
}

/* ns of the TSC interval [from, to). */
static uint64_t tsc_span_ns(const struct dp_worker *w, uint64_t from, uint64_t to)
{
	return tsc_ns(w, to - from);
}

bool dp_worker_iterate(struct dp_worker *w)
{
	uint64_t tsc0 = rte_rdtsc(), tsc_take, delivered = w->st.delivered;
	uint64_t sends = w->st.sends, tx_pkts;
	int work = 0;

	read_clock(w, tsc0);
	w->st.loops++;
	for (uint32_t i = 0; i < w->nports; i++)
		work += rx_port(&w->wp[i]);
	work += rx_inbox(w);
	if (w->deferred_head != UINT32_MAX)
		work += dp_worker_complete_deferred(w);
	tsc_take = rte_rdtsc();
	tx_pkts = w->st.tx_pkts;
	work += dp_worker_take_sends(w);
	/* what was delivered is in the apps' rings before its acks leave: a daemon killed
	 * after acking must not take acked messages with it (the sender was told they
	 * arrived); sleeping apps are woken by the flush at the end of the loop (one full
	 * fence per loop, not two) */
	if (w->shm)
		dp_shm_publish(w->shm);
	for (uint32_t i = 0; i < w->nports; i++) {
		struct dp_wport *wp = &w->wp[i];

		if (srd_next_deadline(wp->eng) <= w->now) {
			srd_on_timer(wp->eng, w->now);
			work++;
		}
		work += tx_port(wp);
		work += tx_impaired(wp);
	}
	if (w->st.sends != sends && w->st.tx_pkts != tx_pkts) {
		w->st.app_to_tx++;
		w->st.app_to_tx_ns += tsc_span_ns(w, tsc_take, rte_rdtsc());
	}
	/* after the submissions: a send an app published before closing its endpoint is
	 * taken while the endpoint exists */
	if (w->shm && w->now >= w->next_control) {
		work += dp_shm_poll_control(w->shm);
		w->next_control = w->now + DP_CONTROL_POLL_NS;
	}
	if (w->shm)
		dp_shm_flush(w->shm);
	if (w->st.delivered != delivered) {
		w->st.rx_to_app++;
		w->st.rx_to_app_ns += tsc_span_ns(w, tsc0, rte_rdtsc());
	}
	if (w->now >= w->next_link_poll) {
		check_links(w);
		w->next_link_poll = w->now + DP_LINK_POLL_NS;
	}
	if (w->tel)
		dp_telemetry_service(w->tel, w->index);
	dp_capture_sync(&w->cap, w);
	if (!work)
		w->st.idle_loops++;
	return work > 0;
}

/* The longest this worker may sleep now without missing a deadline, in µs (UINT64_MAX:
 * nothing is due at all: no connection, nothing held by the impairment stage). */
static uint64_t idle_bound_us(struct dp_worker *w)
{
	uint64_t until = UINT64_MAX;

	for (uint32_t i = 0; i < w->nports; i++) {
		uint64_t d = srd_next_deadline(w->wp[i].eng);

		if (d < until)
			until = d;
		if (w->wp[i].impair) {
			uint64_t due = dp_impair_next_due(w->wp[i].impair);

			if (due != UINT64_MAX) {
				uint64_t ns = dp_worker_tsc_to_ns(w, due);

				if (ns < until)
					until = ns;
			}
		}
	}
	if (w->deferred_head != UINT32_MAX && until > w->now + DP_DEFERRED_POLL_NS)
		until = w->now + DP_DEFERRED_POLL_NS; /* frames freed by other lcores */
	if (until == UINT64_MAX)
		return UINT64_MAX;
	return until <= w->now ? 0 : (until - w->now) / 1000;
}

/* Sleep w->sleep_us, never past the next deadline; the next sleep is twice as long, up to
 * max_sleep_us, or up to deep_us while nothing at all is due (0: max_sleep_us always). */
static void sleep_step(struct dp_worker *w, uint32_t deep_us)
{
	uint64_t bound = idle_bound_us(w);
	uint32_t cap = deep_us && bound == UINT64_MAX ? deep_us : w->cfg->idle_sleep_max_us;
	uint64_t us = w->sleep_us < cap ? w->sleep_us : cap; /* a connection ends a deep sleep */

	if (us > bound)
		us = bound;
	if (us) {
		struct timespec ts = { .tv_sec = (time_t)(us / 1000000u),
				       .tv_nsec = (long)(us % 1000000u * 1000u) };

		w->due_ns += us * 1000u; /* a chosen sleep is not a pause */
		nanosleep(&ts, NULL);
	}
	w->sleep_us = w->sleep_us * 2 > cap ? cap : w->sleep_us * 2;
}

/* The adaptive policy's spin: the pause instruction, and every DP_SPIN_YIELD_NS the CPU
 * given away (a process that shares the core, an app or another daemon, runs then rather
 * than at the end of the scheduler's time slice; alone, the yield returns at once). */
static void spin_step(struct dp_worker *w)
{
	uint64_t tsc = rte_rdtsc();

	if (tsc - w->spin_yield_tsc < w->tsc_hz / (1000000000u / DP_SPIN_YIELD_NS)) {
		rte_pause();
		return;
	}
	sched_yield();
	w->spin_yield_tsc = rte_rdtsc();
}

void dp_worker_idle(struct dp_worker *w)
{
	switch (w->cfg->idle) {
	case DP_IDLE_BUSY:
		return;
	case DP_IDLE_PAUSE:
		rte_pause();
		return;
	case DP_IDLE_SLEEP:
		sleep_step(w, 0);
		return;
	case DP_IDLE_ADAPTIVE:
		if (w->now - w->last_work_ns < (uint64_t)w->cfg->idle_spin_us * 1000u)
			spin_step(w);
		else
			sleep_step(w, w->cfg->idle_deep_sleep_us);
		return;
	}
}

void dp_worker_run(struct dp_worker *w, volatile bool *quit)
{
	/* the kernel's default timer slack (50 µs) would stretch every short idle sleep to
	 * 50 µs or more; the sleep bound is the latency it is meant to cost */
	if (w->cfg->idle == DP_IDLE_SLEEP || w->cfg->idle == DP_IDLE_ADAPTIVE)
		prctl(PR_SET_TIMERSLACK, 1000ul /* ns */, 0, 0, 0);
	while (!*quit) {
		if (dp_worker_iterate(w)) {
			w->sleep_us = 1;
			w->last_work_ns = w->now;
		} else {
			dp_worker_idle(w);
		}
	}
}

/* ---- set-up ---- */

int dp_worker_init(struct dp_worker *w, const struct dp_config *cfg, struct dp_ports *ports,
		   uint32_t index, struct dp_shm *shm, uint16_t epoch, uint64_t seed, char *err,
		   size_t errlen)
{
	char name[RTE_RING_NAMESIZE];
	int rc;

	memset(w, 0, sizeof(*w));
	if (index >= cfg->workers || cfg->workers > DP_MAX_WORKERS) {
		snprintf(err, errlen, "worker %u of %u: out of range", index, cfg->workers);
		return -EINVAL;
	}
	w->cfg = cfg;
	w->index = index;
	w->nworkers = cfg->workers;
	w->shm = shm;
	w->tsc_hz = rte_get_tsc_hz();
	w->ns_per_tsc_q32 = (1000000000ull << 32) / w->tsc_hz;
	w->tsc0 = rte_rdtsc();
	w->sleep_us = 1;
	w->rx_join = malloc(DP_RX_JOIN_MAX);
	rc = w->rx_join ? dp_worker_sends_init(w) : -ENOMEM;
	if (rc) {
		free(w->rx_join);
		w->rx_join = NULL;
		snprintf(err, errlen, "worker: out of memory");
		return rc;
	}
	if (w->nworkers > 1) {
		snprintf(name, sizeof(name), "srd_inbox%u", index);
		w->inbox = rte_ring_create(name, DP_WORKER_INBOX, SOCKET_ID_ANY, RING_F_SC_DEQ);
		if (!w->inbox) {
			snprintf(err, errlen, "worker %u: inbox ring: %s", index,
				 rte_strerror(rte_errno));
			rc = -ENOMEM;
			goto err_free;
		}
	}

	for (uint32_t i = 0; i < ports->n; i++, w->nports++) {
		struct dp_wport *wp = &w->wp[i];
		struct dp_port *p = &ports->port[i];
		struct srd_config ecfg = cfg->engine;
		struct srd_callbacks cb;

		dp_worker_callbacks(wp, &cb);
		wp->w = w;
		wp->port = p;
		wp->queue = (uint16_t)index;
		wp->link_up = p->link_up;
		wp->link_changes_seen = __atomic_load_n(&p->link_changes, __ATOMIC_RELAXED);
		/* every engine of the daemon gets its own epoch (connection ids) and seed */
		ecfg.epoch = (uint16_t)(epoch + index * ports->n + i);
		ecfg.seed = seed + index * ports->n + i;
		/* set-up cookies must not be guessable, even with protocol.seed fixed */
		if (getrandom(ecfg.cookie_key, sizeof(ecfg.cookie_key), 0) !=
		    (ssize_t)sizeof(ecfg.cookie_key)) {
			rc = -errno;
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			goto err_ports;
		}
		rc = srd_engine_create(&ecfg, &cb, &wp->eng, err, errlen);
		if (rc)
			goto err_ports;
		if (p->cfg->impair.enabled) {
			rc = dp_impair_create(&p->cfg->impair, DP_IMPAIR_QUEUE_PKTS, p->socket,
					      w->tsc_hz, &wp->impair);
			if (rc) {
				snprintf(err, errlen, "port %s: impairment stage: %s", p->cfg->name,
					 strerror(-rc));
				srd_engine_destroy(wp->eng);
				goto err_ports;
			}
		}
		dp_neigh_init(&wp->neigh, p->cfg);
		memcpy(wp->local.mac, p->mac, 6);
		wp->local.ipv4 = p->cfg->ipv4;
		wp->local.port_lo = cfg->udp_port;
		wp->local.port_hi = (uint16_t)(cfg->udp_port + cfg->workers - 1);
	}
	return 0;

err_ports:
	while (w->nports > 0) {
		struct dp_wport *wp = &w->wp[--w->nports];

		srd_engine_destroy(wp->eng);
		dp_impair_destroy(wp->impair);
	}
err_free:
	rte_ring_free(w->inbox);
	dp_worker_sends_fini(w);
	free(w->rx_join);
	w->rx_join = NULL;
	return rc;
}

void dp_worker_join(struct dp_worker *workers, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < n && k < DP_MAX_WORKERS; k++)
			workers[i].inboxes[k] = workers[k].inbox;
}

void dp_worker_fini(struct dp_worker *w)
{
	struct rte_mbuf *m;

	/* frames staged for other workers (none: every burst flushes) */
	for (uint32_t k = 0; k < DP_MAX_WORKERS; k++) {
		rte_pktmbuf_free_bulk(w->outbox[k], w->noutbox[k]);
		w->noutbox[k] = 0;
	}
	/* frames other workers handed over and this one never took */
	while (w->inbox && rte_ring_sc_dequeue(w->inbox, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(w->inbox);
	w->inbox = NULL;
	for (uint32_t i = 0; i < w->nports; i++) {
		rte_pktmbuf_free_bulk(w->wp[i].backlog, w->wp[i].nbacklog);
		w->wp[i].nbacklog = 0;
		rte_pktmbuf_free_bulk(w->wp[i].spare, w->wp[i].nspare);
		w->wp[i].nspare = 0;
		srd_engine_destroy(w->wp[i].eng);
		dp_impair_destroy(w->wp[i].impair);
		w->wp[i].eng = NULL;
		w->wp[i].impair = NULL;
	}
	dp_worker_sends_fini(w); /* after the engines: their tx_done frees records */
	if (w->shm)
		dp_shm_flush(w->shm); /* publish the completions of both */
	free(w->rx_join);
	w->rx_join = NULL;
}
