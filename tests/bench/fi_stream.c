/*
 * fi_stream.c — a one-way bandwidth stream over any libfabric RDM provider, in the manner
 * of fi_pingpong but keeping a window of sends in flight (the bandwidth benchmark of the
 * srd provider, tests/bench/bench.py).  Both ends run on this host; the server writes its
 * endpoint name (hex) to a file the client reads.
 *
 *   fi_stream -p srd [-d DOMAIN] -f NAMEFILE [-s SIZE] [-w WINDOW]            server
 *   fi_stream -p srd [-d DOMAIN] -f NAMEFILE [-s SIZE] [-w WINDOW] -D SECS -c client
 *
 * Endpoints are opened with FI_ORDER_SAS, as MPI's.  The client sends SIZE-byte tagged
 * messages (tag 1), keeping WINDOW in flight, for SECS
 * seconds, then a FIN (tag 2) with its name and the bytes whose sends completed; the
 * server, once it has received that many (a FIN can match before data still unexpected),
 * answers with its count (tag 3), which the client checks.  A send's completion
 * is FI_TRANSMIT_COMPLETE: the peer has the message.  Prints one JSON line.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#define TAG_DATA 1
#define TAG_FIN 2
#define TAG_COUNT 3

struct opts {
	const char *prov, *domain, *file;
	size_t size;
	unsigned window;
	double secs;
	int client;
};

struct fab {
	struct fi_info *fi;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_av *av;
	struct fid_cq *cq;
	struct fid_ep *ep;
	fi_addr_t peer;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

#define CHECK(call)                                                                  \
	do {                                                                         \
		int rc_ = (int)(call);                                               \
		if (rc_) {                                                           \
			fprintf(stderr, "fi_stream: %s: %s\n", #call, fi_strerror(-rc_)); \
			exit(1);                                                     \
		}                                                                    \
	} while (0)

static void fab_open(struct fab *f, const struct opts *o)
{
	struct fi_info *hints = fi_allocinfo();
	struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_TAGGED, .size = 4 * o->window + 64 };
	struct fi_av_attr av_attr = { .type = FI_AV_TABLE };

	hints->ep_attr->type = FI_EP_RDM;
	hints->caps = FI_TAGGED;
	hints->mode = FI_CONTEXT | FI_CONTEXT2;
	hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
				      FI_MR_PROV_KEY;
	hints->domain_attr->threading = FI_THREAD_DOMAIN;
	/* send-after-send: the FIN must not overtake the data (as MPI asks) */
	hints->tx_attr->msg_order = FI_ORDER_SAS;
	hints->rx_attr->msg_order = FI_ORDER_SAS;
	hints->fabric_attr->prov_name = strdup(o->prov);
	if (o->domain)
		hints->domain_attr->name = strdup(o->domain);
	CHECK(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, hints, &f->fi));
	fi_freeinfo(hints);
	if (f->fi->domain_attr->mr_mode & FI_MR_LOCAL) {
		fprintf(stderr, "fi_stream: provider %s needs local registration: not supported\n",
			o->prov);
		exit(1);
	}
	CHECK(fi_fabric(f->fi->fabric_attr, &f->fabric, NULL));
	CHECK(fi_domain(f->fabric, f->fi, &f->domain, NULL));
	CHECK(fi_av_open(f->domain, &av_attr, &f->av, NULL));
	CHECK(fi_cq_open(f->domain, &cq_attr, &f->cq, NULL));
	CHECK(fi_endpoint(f->domain, f->fi, &f->ep, NULL));
	CHECK(fi_ep_bind(f->ep, &f->av->fid, 0));
	CHECK(fi_ep_bind(f->ep, &f->cq->fid, FI_TRANSMIT | FI_RECV));
	CHECK(fi_enable(f->ep));
}

static void fab_close(struct fab *f)
{
	fi_close(&f->ep->fid);
	fi_close(&f->cq->fid);
	fi_close(&f->av->fid);
	fi_close(&f->domain->fid);
	fi_close(&f->fabric->fid);
	fi_freeinfo(f->fi);
}

/* One completion (busy polling); exits on an error entry. */
static void next_comp(struct fab *f, struct fi_cq_tagged_entry *e)
{
	for (;;) {
		ssize_t n = fi_cq_read(f->cq, e, 1);

		if (n == 1)
			return;
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry err = { 0 };

			fi_cq_readerr(f->cq, &err, 0);
			fprintf(stderr, "fi_stream: completion error: %s\n", fi_strerror(err.err));
			exit(1);
		}
		if (n != -FI_EAGAIN) {
			fprintf(stderr, "fi_stream: fi_cq_read: %s\n", fi_strerror((int)-n));
			exit(1);
		}
	}
}

static void write_name(struct fab *f, const char *file)
{
	uint8_t name[256];
	size_t len = sizeof(name);
	char tmp[512];
	FILE *out;

	CHECK(fi_getname(&f->ep->fid, name, &len));
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	out = fopen(tmp, "w");
	if (!out) {
		perror(tmp);
		exit(1);
	}
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", name[i]);
	fprintf(out, "\n");
	fclose(out);
	rename(tmp, file);
}

static void read_name(struct fab *f, const char *file)
{
	uint8_t name[256];
	size_t len = 0;
	unsigned v;
	FILE *in = NULL;

	for (int i = 0; i < 500 && !(in = fopen(file, "r")); i++)
		usleep(10000);
	if (!in) {
		perror(file);
		exit(1);
	}
	while (len < sizeof(name) && fscanf(in, "%2x", &v) == 1)
		name[len++] = (uint8_t)v;
	fclose(in);
	if (fi_av_insert(f->av, name, 1, &f->peer, 0, NULL) != 1) {
		fprintf(stderr, "fi_stream: fi_av_insert failed\n");
		exit(1);
	}
}

static void server(struct fab *f, const struct opts *o)
{
	uint8_t *buf = malloc(o->size * o->window);
	struct fi_context *ctx = calloc(o->window + 1, sizeof(*ctx));
	uint8_t fin[256 + 8];
	struct fi_cq_tagged_entry e;
	uint64_t bytes = 0, msgs = 0, expect = UINT64_MAX;
	size_t fin_len = 0;

	if (!buf || !ctx)
		exit(1);
	write_name(f, o->file);
	for (unsigned i = 0; i < o->window; i++)
		CHECK(fi_trecv(f->ep, buf + i * o->size, o->size, NULL, FI_ADDR_UNSPEC, TAG_DATA,
			       0, &ctx[i]));
	/* the FIN carries the client's name, for the answer */
	CHECK(fi_trecv(f->ep, fin, sizeof(fin), NULL, FI_ADDR_UNSPEC, TAG_FIN, 0, &ctx[o->window]));
	while (bytes < expect) {
		unsigned i;

		next_comp(f, &e);
		if (!(e.flags & FI_RECV))
			continue;
		if (e.tag == TAG_FIN) {
			fin_len = e.len - 8;
			memcpy(&expect, fin + fin_len, 8);
			continue;
		}
		i = (unsigned)((struct fi_context *)e.op_context - ctx);
		bytes += e.len;
		msgs++;
		CHECK(fi_trecv(f->ep, buf + i * o->size, o->size, NULL, FI_ADDR_UNSPEC, TAG_DATA,
			       0, &ctx[i]));
	}
	(void)fin_len;
	if (fi_av_insert(f->av, fin, 1, &f->peer, 0, NULL) != 1)
		exit(1);
	CHECK(fi_tsend(f->ep, &bytes, sizeof(bytes), NULL, f->peer, TAG_COUNT, &ctx[0]));
	do
		next_comp(f, &e);
	while (!(e.flags & FI_SEND));
	printf("{\"role\":\"server\",\"bytes\":%" PRIu64 ",\"msgs\":%" PRIu64 "}\n", bytes,
	       msgs);
	free(ctx);
	free(buf);
}

static void client(struct fab *f, const struct opts *o)
{
	uint8_t *buf = malloc(o->size);
	struct fi_context *ctx = calloc(o->window + 1, sizeof(*ctx));
	struct fi_cq_tagged_entry e;
	uint64_t done = 0, peer_bytes = 0, sent_bytes;
	uint8_t name[256 + 8];
	size_t nlen = 256;
	unsigned inflight = 0;
	double t0, t1, end;

	if (!buf || !ctx)
		exit(1);
	for (size_t i = 0; i < o->size; i++)
		buf[i] = (uint8_t)i;
	read_name(f, o->file);
	CHECK(fi_getname(&f->ep->fid, name, &nlen));
	CHECK(fi_trecv(f->ep, &peer_bytes, sizeof(peer_bytes), NULL, FI_ADDR_UNSPEC, TAG_COUNT, 0,
		       &ctx[o->window]));
	t0 = now_s();
	end = t0 + o->secs;
	t1 = t0;
	for (;;) {
		bool more = now_s() < end;

		while (more && inflight < o->window) {
			ssize_t rc = fi_tsend(f->ep, buf, o->size, NULL, f->peer, TAG_DATA, &ctx[0]);

			if (rc == -FI_EAGAIN)
				break;
			CHECK(rc);
			inflight++;
		}
		if (!more && !inflight)
			break;
		next_comp(f, &e);
		if (e.flags & FI_SEND) {
			inflight--;
			done++;
			t1 = now_s();
		}
	}
	sent_bytes = done * o->size; /* the FIN says how many bytes to wait for */
	memcpy(name + nlen, &sent_bytes, 8);
	CHECK(fi_tsend(f->ep, name, nlen + 8, NULL, f->peer, TAG_FIN, &ctx[0]));
	for (int got = 0; got < 2;) {
		next_comp(f, &e);
		got += (e.flags & FI_SEND) || e.tag == TAG_COUNT;
	}
	if (peer_bytes != done * o->size) {
		fprintf(stderr, "fi_stream: the server received %" PRIu64 " bytes, %" PRIu64
				" completed\n", peer_bytes, done * o->size);
		exit(1);
	}
	printf("{\"test\":\"fi_stream\",\"prov\":\"%s\",\"size\":%zu,\"window\":%u,"
	       "\"msgs\":%" PRIu64 ",\"seconds\":%.3f,\"gbps\":%.3f}\n", o->prov, o->size,
	       o->window, done, t1 - t0, (double)done * (double)o->size * 8 / (t1 - t0) / 1e9);
	free(ctx);
	free(buf);
}

int main(int argc, char **argv)
{
	struct opts o = { .prov = "srd", .size = 1 << 20, .window = 16, .secs = 3 };
	struct fab f = { 0 };
	int opt;

	while ((opt = getopt(argc, argv, "p:d:f:s:w:D:c")) != -1) {
		switch (opt) {
		case 'p': o.prov = optarg; break;
		case 'd': o.domain = optarg; break;
		case 'f': o.file = optarg; break;
		case 's': o.size = strtoull(optarg, NULL, 0); break;
		case 'w': o.window = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'D': o.secs = strtod(optarg, NULL); break;
		case 'c': o.client = 1; break;
		default:
			fprintf(stderr, "usage: fi_stream -p PROV [-d DOMAIN] -f NAMEFILE [-s SIZE] "
					"[-w WINDOW] [-D SECS] [-c]\n");
			return 2;
		}
	}
	if (!o.file || !o.window || !o.size)
		return 2;
	fab_open(&f, &o);
	if (o.client)
		client(&f, &o);
	else
		server(&f, &o);
	fab_close(&f);
	return 0;
}
