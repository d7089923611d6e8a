/*
 * test_fi_objects.c — the srd provider's objects that work without a daemon, through the
 * libfabric API: the header and name codec, the payload copy (streaming stores at every
 * alignment and length), the attributes fi_getinfo offers against
 * hints, address vectors (FI_AV_TABLE and FI_AV_MAP, FI_EVENT), completion queues (every
 * format, FI_SOURCE, error entries with err_data, growth, blocking reads, the wait fd),
 * counters, event queues and memory regions.
 *
 * The provider's objects are linked in directly (its static library); a domain attaches
 * to srdd only when its first endpoint opens, so none is needed here.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "srdfi.h"

#define IP_A 0x0a4d0001u /* 10.77.0.1 */
#define IP_B 0x0a4d0002u /* 10.77.0.2 */

/* A fabric and a domain of srd, opened through the provider's entry points. */
struct env {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
};

static const struct srdc_info two_addrs = {
	.max_msg = 16u << 20, .naddrs = 2, .addrs = { IP_A, IP_B },
	.tx_area = 32u << 20, .rx_area = 32u << 20,
};

static void env_open(struct env *e)
{
	struct srdfi_params params;

	memset(e, 0, sizeof(*e));
	srdfi_params_get(&params);
	params.addr[0] = 0;
	assert_int_equal(srdfi_info_build(FI_VERSION(1, 17), NULL, NULL, 0, NULL, &two_addrs,
					  &params, &e->info), 0);
	assert_int_equal(srdfi_prov.fabric(e->info->fabric_attr, &e->fabric, NULL), 0);
	assert_int_equal(fi_domain(e->fabric, e->info, &e->domain, NULL), 0);
}

static void env_close(struct env *e)
{
	assert_int_equal(fi_close(&e->domain->fid), 0);
	assert_int_equal(fi_close(&e->fabric->fid), 0);
	fi_freeinfo(e->info);
}

/* ---- the wire ---- */

static void test_hdr_codec(void **state)
{
	uint8_t b[32];
	struct srdfi_hdr h = { SRDFI_WIRE_VERSION, SRDFI_OP_TAGGED, SRDFI_H_DATA, 0x01020304 }, g;
	struct srdfi_seg s = { 1000, 200 }, t;

	(void)state;
	assert_int_equal(srdfi_hdr_encode(b, &h, NULL), SRDFI_HDR_LEN);
	assert_int_equal(srdfi_hdr_decode(b, 8 + 5, &g, &t), SRDFI_HDR_LEN);
	assert_int_equal(g.op, SRDFI_OP_TAGGED);
	assert_int_equal(g.flags, SRDFI_H_DATA);
	assert_int_equal(g.msg_id, 0x01020304);
	assert_int_equal(t.total, 5); /* a whole message: its length is what follows */
	assert_int_equal(t.offset, 0);

	h.flags = SRDFI_H_SEG | SRDFI_H_DC;
	assert_int_equal(srdfi_hdr_encode(b, &h, &s), SRDFI_HDR_LEN + SRDFI_SEG_LEN);
	assert_int_equal(srdfi_hdr_decode(b, 24 + 800, &g, &t), 24);
	assert_int_equal(t.total, 1000);
	assert_int_equal(t.offset, 200);
	/* a piece running past its message, or starting past it */
	assert_int_equal(srdfi_hdr_decode(b, 24 + 801, &g, &t), -FI_EINVAL);
	s.offset = 1001;
	srdfi_hdr_encode(b, &h, &s);
	assert_int_equal(srdfi_hdr_decode(b, 24, &g, &t), -FI_EINVAL);
	s.total = SRDFI_MAX_MSG + 1;
	s.offset = 0;
	srdfi_hdr_encode(b, &h, &s);
	assert_int_equal(srdfi_hdr_decode(b, 24, &g, &t), -FI_EINVAL);
	/* short, another version, unknown op or flag, a DACK with flags or a payload */
	assert_int_equal(srdfi_hdr_decode(b, 7, &g, &t), -FI_EINVAL);
	assert_int_equal(srdfi_hdr_decode(b, 20, &g, &t), -FI_EINVAL); /* SEG, no room */
	h.flags = 0;
	srdfi_hdr_encode(b, &h, NULL);
	b[0] = 2;
	assert_int_equal(srdfi_hdr_decode(b, 8, &g, &t), -FI_EINVAL);
	b[0] = SRDFI_WIRE_VERSION;
	b[1] = 0;
	assert_int_equal(srdfi_hdr_decode(b, 8, &g, &t), -FI_EINVAL);
	b[1] = 4;
	assert_int_equal(srdfi_hdr_decode(b, 8, &g, &t), -FI_EINVAL);
	b[1] = SRDFI_OP_MSG;
	b[2] = 0x8;
	assert_int_equal(srdfi_hdr_decode(b, 8, &g, &t), -FI_EINVAL);
	b[2] = 0;
	b[1] = SRDFI_OP_DACK;
	assert_int_equal(srdfi_hdr_decode(b, 8, &g, &t), SRDFI_HDR_LEN);
	assert_int_equal(srdfi_hdr_decode(b, 9, &g, &t), -FI_EINVAL);
	b[2] = SRDFI_H_DATA;
	assert_int_equal(srdfi_hdr_decode(b, 8, &g, &t), -FI_EINVAL);
	b[2] = SRDFI_H_DROPPED; /* a DACK's own flag: on a DACK only */
	assert_int_equal(srdfi_hdr_decode(b, 8, &g, &t), SRDFI_HDR_LEN);
	assert_int_equal(g.flags, SRDFI_H_DROPPED);
	b[1] = SRDFI_OP_TAGGED;
	assert_int_equal(srdfi_hdr_decode(b, 8, &g, &t), -FI_EINVAL);
}

static void test_name_codec(void **state)
{
	struct srdc_addr a = { IP_B, 4097 }, c;
	uint8_t n[SRDFI_NAME_LEN];

	(void)state;
	srdfi_name_encode(n, &a);
	assert_int_equal(srdfi_name_decode(n, sizeof(n), &c), 0);
	assert_int_equal(c.ipv4, IP_B);
	assert_int_equal(c.ep, 4097);
	assert_int_equal(srdfi_name_decode(n, 7, &c), -FI_EINVAL);
	n[0] = 0;
	assert_int_equal(srdfi_name_decode(n, sizeof(n), &c), -FI_EINVAL);
	assert_int_equal(srdfi_name_decode(NULL, 8, &c), -FI_EINVAL);
}

/* ---- fi_getinfo's attributes ---- */

static int build(const struct fi_info *hints, const char *node, uint64_t flags,
		 const char *addr_param, struct fi_info **out)
{
	struct srdfi_params p = { .segment = 1 << 20 };

	snprintf(p.socket, sizeof(p.socket), "/nonexistent");
	if (addr_param)
		snprintf(p.addr, sizeof(p.addr), "%s", addr_param);
	return srdfi_info_build(FI_VERSION(1, 17), node, "4242", flags, hints, &two_addrs, &p,
				out);
}

static void test_info_defaults(void **state)
{
	struct fi_info *fi;

	(void)state;
	assert_int_equal(build(NULL, NULL, 0, NULL, &fi), 0);
	assert_string_equal(fi->domain_attr->name, "10.77.0.1");
	assert_non_null(fi->next);
	assert_string_equal(fi->next->domain_attr->name, "10.77.0.2");
	assert_null(fi->next->next);
	assert_int_equal(fi->ep_attr->type, FI_EP_RDM);
	assert_true(fi->caps & FI_TAGGED && fi->caps & FI_MSG && fi->caps & FI_DIRECTED_RECV);
	assert_true(fi->ep_attr->mem_tag_format >> 63); /* Open MPI needs bit 63 */
	assert_true(fi->ep_attr->max_msg_size >= (1ull << 30));
	assert_int_equal(fi->domain_attr->cq_data_size, 8);
	assert_int_equal(fi->domain_attr->mr_mode, 0);
	assert_int_equal(fi->domain_attr->resource_mgmt, FI_RM_ENABLED);
	assert_int_equal(fi->domain_attr->data_progress, FI_PROGRESS_MANUAL);
	assert_int_equal(fi->mode, 0);
	assert_int_equal(fi->src_addrlen, SRDFI_NAME_LEN);
	assert_null(fi->dest_addr);
	assert_string_equal(fi->fabric_attr->name, "srd");
	assert_null(fi->fabric_attr->prov_name); /* the core fills it */
	fi_freeinfo(fi);
}

static void test_info_hints(void **state)
{
	struct fi_info *h = fi_allocinfo(), *fi;

	(void)state;
	/* what Open MPI asks */
	h->ep_attr->type = FI_EP_RDM;
	h->caps = FI_TAGGED | FI_LOCAL_COMM | FI_REMOTE_COMM | FI_DIRECTED_RECV;
	h->mode = FI_CONTEXT | FI_CONTEXT2;
	h->tx_attr->msg_order = h->rx_attr->msg_order = FI_ORDER_SAS;
	h->tx_attr->op_flags = FI_COMPLETION;
	h->domain_attr->cq_data_size = 4;
	h->domain_attr->resource_mgmt = FI_RM_ENABLED;
	h->domain_attr->av_type = FI_AV_MAP;
	h->domain_attr->threading = FI_THREAD_DOMAIN;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), 0);
	assert_int_equal(fi->caps & (FI_TAGGED | FI_DIRECTED_RECV), FI_TAGGED | FI_DIRECTED_RECV);
	assert_false(fi->caps & FI_MSG);
	assert_int_equal(fi->tx_attr->msg_order, FI_ORDER_SAS);
	assert_int_equal(fi->tx_attr->op_flags, FI_COMPLETION);
	assert_int_equal(fi->domain_attr->av_type, FI_AV_MAP);
	assert_int_equal(fi->domain_attr->threading, FI_THREAD_DOMAIN); /* echoed (MPICH) */
	fi_freeinfo(fi);
	/* a caps hint without FI_DIRECTED_RECV does not get it (fi_pingpong posts src 0) */
	h->caps = FI_MSG;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), 0);
	assert_false(fi->caps & FI_DIRECTED_RECV);
	fi_freeinfo(fi);
	/* a domain by name */
	h->domain_attr->name = strdup("10.77.0.2");
	assert_int_equal(build(h, NULL, 0, NULL, &fi), 0);
	assert_string_equal(fi->domain_attr->name, "10.77.0.2");
	assert_null(fi->next);
	fi_freeinfo(fi);
	free(h->domain_attr->name);
	h->domain_attr->name = strdup("10.9.9.9");
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	free(h->domain_attr->name);
	h->domain_attr->name = NULL;
	/* what srd cannot do */
	h->caps = FI_RMA;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	h->caps = FI_TAGGED;
	h->ep_attr->type = FI_EP_MSG;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	h->ep_attr->type = FI_EP_RDM;
	h->domain_attr->data_progress = FI_PROGRESS_AUTO;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	h->domain_attr->data_progress = FI_PROGRESS_UNSPEC;
	h->domain_attr->cq_data_size = 16;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	h->domain_attr->cq_data_size = 8;
	h->tx_attr->inject_size = 1u << 20;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	h->tx_attr->inject_size = 0;
	/* socket addresses: IPv4 ones (FI_SOCKADDR taken as FI_SOCKADDR_IN), no others */
	h->addr_format = FI_SOCKADDR_IN6;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	h->addr_format = FI_ADDR_STR;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	for (int k = 0; k < 2; k++) {
		struct sockaddr_in sin;

		h->addr_format = k ? FI_SOCKADDR : FI_SOCKADDR_IN;
		assert_int_equal(build(h, NULL, 0, NULL, &fi), 0);
		assert_int_equal(fi->addr_format, FI_SOCKADDR_IN);
		assert_int_equal(fi->src_addrlen, sizeof(sin));
		memcpy(&sin, fi->src_addr, sizeof(sin));
		assert_int_equal(sin.sin_family, AF_INET);
		assert_int_equal(ntohl(sin.sin_addr.s_addr), IP_A);
		assert_int_equal(ntohs(sin.sin_port), 0); /* the domain's own address */
		fi_freeinfo(fi);
	}
	h->addr_format = FI_FORMAT_UNSPEC;
	h->ep_attr->max_msg_size = SRDFI_MAX_MSG + 1;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	fi_freeinfo(h);
}

static void test_info_addresses(void **state)
{
	struct fi_info *fi, *h = fi_allocinfo();
	struct srdc_addr a;
	uint8_t name[SRDFI_NAME_LEN];

	(void)state;
	/* FI_SOURCE with one of srdd's addresses narrows to it; another address (a test's
	 * 127.0.0.1) leaves every domain; a service means nothing */
	assert_int_equal(build(NULL, "10.77.0.2", FI_SOURCE, NULL, &fi), 0);
	assert_string_equal(fi->domain_attr->name, "10.77.0.2");
	assert_null(fi->next);
	fi_freeinfo(fi);
	assert_int_equal(build(NULL, "127.0.0.1", FI_SOURCE, NULL, &fi), 0);
	assert_non_null(fi->next);
	fi_freeinfo(fi);
	/* a node without FI_SOURCE is the peer */
	assert_int_equal(build(NULL, "10.77.0.2", 0, NULL, &fi), 0);
	assert_non_null(fi->dest_addr);
	assert_int_equal(srdfi_name_decode(fi->dest_addr, fi->dest_addrlen, &a), 0);
	assert_int_equal(a.ipv4, IP_B);
	fi_freeinfo(fi);
	/* FI_SRD_ADDR */
	assert_int_equal(build(NULL, NULL, 0, "10.77.0.2", &fi), 0);
	assert_string_equal(fi->domain_attr->name, "10.77.0.2");
	assert_null(fi->next);
	fi_freeinfo(fi);
	assert_int_equal(build(NULL, NULL, 0, "garbage", &fi), -FI_ENODATA);
	/* hints' dest_addr (fi_pingpong's client) comes back */
	srdfi_name_encode(name, &(struct srdc_addr){ IP_B, 7 });
	h->dest_addr = malloc(SRDFI_NAME_LEN);
	memcpy(h->dest_addr, name, SRDFI_NAME_LEN);
	h->dest_addrlen = SRDFI_NAME_LEN;
	assert_int_equal(build(h, NULL, 0, NULL, &fi), 0);
	assert_memory_equal(fi->dest_addr, name, SRDFI_NAME_LEN);
	fi_freeinfo(fi);
	((uint8_t *)h->dest_addr)[0] ^= 1; /* not a name of ours */
	assert_int_equal(build(h, NULL, 0, NULL, &fi), -FI_ENODATA);
	fi_freeinfo(h);
}

/* ---- address vectors ---- */

static void names(uint8_t *out, const struct srdc_addr *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		srdfi_name_encode(out + i * SRDFI_NAME_LEN, &a[i]);
}

/*
 * A domain opened with FI_SOCKADDR_IN names endpoints with a struct sockaddr_in whose port
 * is the endpoint id (fabtests' fi_av_test builds its addresses so): insert, lookup, straddr,
 * insertsvc, and an address that is no IPv4 socket address refused.
 */
static void test_av_sockaddr(void **state)
{
	struct srdfi_params params;
	struct fi_info *hints = fi_allocinfo(), *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_av *av;
	struct fi_av_attr attr = { .type = FI_AV_TABLE };
	struct sockaddr_in sin[2], out;
	size_t len = sizeof(out);
	fi_addr_t fa[2], f;
	struct srdc_addr got;
	char s[64];

	(void)state;
	assert_non_null(hints);
	hints->addr_format = FI_SOCKADDR;
	srdfi_params_get(&params);
	params.addr[0] = 0;
	assert_int_equal(srdfi_info_build(FI_VERSION(1, 17), NULL, NULL, 0, hints, &two_addrs,
					  &params, &info), 0);
	assert_int_equal(srdfi_prov.fabric(info->fabric_attr, &fabric, NULL), 0);
	assert_int_equal(fi_domain(fabric, info, &domain, NULL), 0);
	assert_int_equal(fi_av_open(domain, &attr, &av, NULL), 0);

	memset(sin, 0, sizeof(sin));
	sin[0].sin_family = AF_INET;
	sin[0].sin_port = htons(7);
	sin[0].sin_addr.s_addr = htonl(IP_B);
	/* sin[1] all zeros: no address family, refused */
	assert_int_equal(fi_av_insert(av, sin, 2, fa, 0, NULL), 1);
	assert_true(fa[1] == FI_ADDR_NOTAVAIL);
	assert_int_equal(srdfi_av_get(srdfi_container(av, struct srdfi_av, fid), fa[0], &got), 0);
	assert_int_equal(got.ipv4, IP_B);
	assert_int_equal(got.ep, 7);
	assert_int_equal(fi_av_lookup(av, fa[0], &out, &len), 0);
	assert_int_equal(len, sizeof(out));
	assert_memory_equal(&out, &sin[0], sizeof(out));
	len = sizeof(s);
	fi_av_straddr(av, &sin[0], s, &len);
	assert_string_equal(s, "srd://10.77.0.2:7");
	assert_int_equal(fi_av_insertsvc(av, "10.77.0.1", "9", &f, 0, NULL), 1);
	len = sizeof(out);
	assert_int_equal(fi_av_lookup(av, f, &out, &len), 0);
	assert_int_equal(ntohs(out.sin_port), 9);
	assert_int_equal(ntohl(out.sin_addr.s_addr), IP_A);

	assert_int_equal(fi_close(&av->fid), 0);
	assert_int_equal(fi_close(&domain->fid), 0);
	assert_int_equal(fi_close(&fabric->fid), 0);
	fi_freeinfo(info);
	fi_freeinfo(hints);
}

static void av_basics(enum fi_av_type type)
{
	struct env e;
	struct fid_av *av;
	struct fi_av_attr attr = { .type = type, .count = 2 };
	struct srdc_addr a[4] = { { IP_A, 1 }, { IP_B, 2 }, { IP_B, 0 }, { IP_A, 9 } };
	uint8_t buf[4 * SRDFI_NAME_LEN], out[16];
	fi_addr_t fa[4];
	size_t len = sizeof(out);
	char s[64];
	struct srdfi_av *sav;
	struct srdc_addr got;

	env_open(&e);
	assert_int_equal(fi_av_open(e.domain, &attr, &av, NULL), 0);
	names(buf, a, 4);
	buf[3 * SRDFI_NAME_LEN] = 0; /* the fourth is not a name */
	/* the third names a domain (endpoint 0): refused, the others go in */
	assert_int_equal(fi_av_insert(av, buf, 4, fa, 0, NULL), 2);
	assert_true(fa[0] != FI_ADDR_NOTAVAIL && fa[1] != FI_ADDR_NOTAVAIL);
	assert_true(fa[2] == FI_ADDR_NOTAVAIL && fa[3] == FI_ADDR_NOTAVAIL);
	assert_int_equal(fi_av_lookup(av, fa[1], out, &len), 0);
	assert_int_equal(len, SRDFI_NAME_LEN);
	assert_memory_equal(out, buf + SRDFI_NAME_LEN, SRDFI_NAME_LEN);
	len = 4;
	assert_int_equal(fi_av_lookup(av, fa[1], out, &len), 0); /* truncated, size said */
	assert_int_equal(len, SRDFI_NAME_LEN);
	len = sizeof(s);
	fi_av_straddr(av, buf + SRDFI_NAME_LEN, s, &len);
	assert_string_equal(s, "srd://10.77.0.2:2");
	/* the reverse question (FI_SOURCE, directed receives) */
	sav = srdfi_container(av, struct srdfi_av, fid);
	assert_int_equal(srdfi_av_find(sav, &a[0]), fa[0]);
	assert_int_equal(srdfi_av_find(sav, &a[1]), fa[1]);
	assert_true(srdfi_av_find(sav, &a[3]) == FI_ADDR_NOTAVAIL);
	/* growth past the count asked, and a duplicate (the first answers for it) */
	for (uint16_t i = 0; i < 1000; i++) {
		struct srdc_addr x = { IP_A + i, (uint16_t)(100 + i) };
		fi_addr_t f;

		names(out, &x, 1);
		assert_int_equal(fi_av_insert(av, out, 1, &f, 0, NULL), 1);
		assert_int_equal(srdfi_av_find(sav, &x), f);
	}
	names(out, &a[0], 1);
	assert_int_equal(fi_av_insert(av, out, 1, &fa[2], 0, NULL), 1);
	assert_true(fa[2] != fa[0]);
	assert_int_equal(srdfi_av_find(sav, &a[0]), fa[0]);
	assert_int_equal(srdfi_av_get(sav, fa[2], &got), 0);
	assert_int_equal(got.ep, 1);
	/* remove: gone from both directions; removing twice is an error */
	assert_int_equal(fi_av_remove(av, &fa[0], 1, 0), 0);
	assert_int_equal(fi_av_lookup(av, fa[0], out, &len), -FI_ENODATA);
	assert_int_equal(srdfi_av_find(sav, &a[0]), fa[2]); /* the duplicate answers now */
	assert_int_equal(fi_av_remove(av, &fa[0], 1, 0), -FI_EINVAL);
	/* insertsvc: the service is an endpoint id */
	assert_int_equal(fi_av_insertsvc(av, "10.77.0.1", "4097", &fa[3], 0, NULL), 1);
	assert_int_equal(srdfi_av_get(sav, fa[3], &got), 0);
	assert_int_equal(got.ep, 4097);
	assert_int_equal(fi_av_insertsvc(av, "nohost", "1", &fa[3], 0, NULL), -FI_EINVAL);
	assert_int_equal(fi_av_insertsym(av, "10.1.0.1", 2, "5", 3, NULL, 0, NULL), 6);
	assert_int_equal(srdfi_av_find(sav, &(struct srdc_addr){ 0x0a010002u, 7 }) !=
				 FI_ADDR_NOTAVAIL, 1);
	assert_int_equal(fi_close(&av->fid), 0);
	env_close(&e);
}

static void test_av_table(void **state)
{
	(void)state;
	av_basics(FI_AV_TABLE);
}

static void test_av_map(void **state)
{
	(void)state;
	av_basics(FI_AV_MAP);
}

static void test_av_event(void **state)
{
	struct env e;
	struct fid_av *av;
	struct fid_eq *eq;
	struct fi_eq_attr eq_attr = { .wait_obj = FI_WAIT_UNSPEC };
	struct fi_av_attr attr = { .type = FI_AV_TABLE, .flags = FI_EVENT };
	struct srdc_addr a[2] = { { IP_A, 1 }, { IP_B, 0 } };
	uint8_t buf[2 * SRDFI_NAME_LEN];
	struct fi_eq_entry ev;
	struct fi_eq_err_entry err = { 0 };
	fi_addr_t fa[2];
	uint32_t event;
	int ctx;

	(void)state;
	env_open(&e);
	assert_int_equal(fi_eq_open(e.fabric, &eq_attr, &eq, NULL), 0);
	assert_int_equal(fi_av_open(e.domain, &attr, &av, NULL), 0);
	names(buf, a, 2);
	assert_int_equal(fi_av_insert(av, buf, 2, fa, 0, &ctx), -FI_ENOEQ); /* not bound */
	assert_int_equal(fi_av_bind(av, &eq->fid, 0), 0);
	assert_int_equal(fi_av_insert(av, buf, 2, fa, 0, &ctx), 0);
	/* the failed address first (an error entry naming its index), then the completion */
	assert_int_equal(fi_eq_read(eq, &event, &ev, sizeof(ev), 0), -FI_EAVAIL);
	assert_int_equal(fi_eq_readerr(eq, &err, 0), sizeof(err));
	assert_int_equal(err.data, 1);
	assert_ptr_equal(err.context, &ctx);
	assert_ptr_equal(err.fid, &av->fid); /* which object failed (fi_eq(3)) */
	assert_int_equal(fi_eq_sread(eq, &event, &ev, sizeof(ev), 1000, 0), sizeof(ev));
	assert_int_equal(event, FI_AV_COMPLETE);
	assert_int_equal(ev.data, 1);
	assert_ptr_equal(ev.context, &ctx);
	assert_int_equal(fi_close(&eq->fid), -FI_EBUSY); /* the AV holds it */
	assert_int_equal(fi_close(&av->fid), 0);
	assert_int_equal(fi_close(&eq->fid), 0);
	env_close(&e);
}

/* ---- completion queues ---- */

static struct srdfi_cq *cq_of(struct fid_cq *cq)
{
	return srdfi_container(cq, struct srdfi_cq, fid);
}

static struct srdfi_cqe cqe(void *ctx, uint64_t n)
{
	return (struct srdfi_cqe){
		.e = { .op_context = ctx, .flags = FI_RECV | FI_TAGGED, .len = n,
		       .buf = (void *)(uintptr_t)0x1000, .data = n * 3, .tag = n * 7 },
		.src = n,
	};
}

static void test_cq_formats(void **state)
{
	static const size_t sizes[] = { [FI_CQ_FORMAT_CONTEXT] = sizeof(struct fi_cq_entry),
					[FI_CQ_FORMAT_MSG] = sizeof(struct fi_cq_msg_entry),
					[FI_CQ_FORMAT_DATA] = sizeof(struct fi_cq_data_entry),
					[FI_CQ_FORMAT_TAGGED] = sizeof(struct fi_cq_tagged_entry) };
	struct env e;

	(void)state;
	env_open(&e);
	for (int f = FI_CQ_FORMAT_CONTEXT; f <= FI_CQ_FORMAT_TAGGED; f++) {
		struct fi_cq_attr attr = { .format = (enum fi_cq_format)f, .size = 4 };
		struct fi_cq_tagged_entry out[16];
		fi_addr_t src[16];
		struct fid_cq *cq;
		int ctx[10];

		assert_int_equal(fi_cq_open(e.domain, &attr, &cq, NULL), 0);
		assert_int_equal(fi_cq_read(cq, out, 1), -FI_EAGAIN);
		for (int i = 0; i < 10; i++) { /* past its size: it grows */
			struct srdfi_cqe c = cqe(&ctx[i], (uint64_t)i);

			assert_int_equal(srdfi_cq_write(cq_of(cq), &c), 0);
		}
		memset(out, 0xee, sizeof(out));
		assert_int_equal(fi_cq_readfrom(cq, out, 3, src), 3);
		for (int i = 0; i < 3; i++) {
			const uint8_t *p = (const uint8_t *)out + i * sizes[f];
			struct fi_cq_tagged_entry t;

			memcpy(&t, p, sizes[f]);
			assert_ptr_equal(t.op_context, &ctx[i]);
			if (f >= FI_CQ_FORMAT_MSG)
				assert_int_equal(t.len, i);
			if (f >= FI_CQ_FORMAT_DATA)
				assert_int_equal(t.data, 3 * i);
			if (f == FI_CQ_FORMAT_TAGGED)
				assert_int_equal(t.tag, 7 * i);
			assert_int_equal(src[i], i);
		}
		/* nothing past the format's size was written */
		assert_int_equal(((const uint8_t *)out)[3 * sizes[f]], 0xee);
		assert_int_equal(fi_cq_read(cq, out, 16), 7);
		assert_int_equal(fi_cq_read(cq, out, 16), -FI_EAGAIN);
		assert_int_equal(fi_close(&cq->fid), 0);
	}
	env_close(&e);
}

static void test_cq_errors(void **state)
{
	struct env e;
	struct fi_cq_attr attr = { .format = FI_CQ_FORMAT_TAGGED };
	struct fi_cq_tagged_entry out;
	struct fi_cq_err_entry err;
	struct fid_cq *cq;
	char user[8], text[64];
	int ctx;

	(void)state;
	env_open(&e);
	assert_int_equal(fi_cq_open(e.domain, &attr, &cq, NULL), 0);
	struct srdfi_cqe one = cqe(&ctx, 1);

	assert_int_equal(srdfi_cq_write(cq_of(cq), &one), 0);
	assert_int_equal(srdfi_cq_write_err(cq_of(cq), &ctx, FI_RECV | FI_TAGGED, 10, 0x77, 5, 90,
					    FI_ETRUNC, 0, 3, "message longer than the buffer"), 0);
	assert_int_equal(srdfi_cq_write_err(cq_of(cq), &ctx, FI_SEND, 0, 0, 0, 0, ETIMEDOUT,
					    ETIMEDOUT, FI_ADDR_NOTAVAIL, "unreachable"), 0);
	assert_int_equal(fi_cq_read(cq, &out, 1), -FI_EAVAIL);
	/* err_data into the application's buffer (truncated to its size) */
	memset(&err, 0, sizeof(err));
	err.err_data = user;
	err.err_data_size = sizeof(user);
	assert_int_equal(fi_cq_readerr(cq, &err, 0), 1);
	assert_int_equal(err.err, FI_ETRUNC);
	assert_ptr_equal(err.op_context, &ctx);
	assert_int_equal(err.len, 10);
	assert_int_equal(err.olen, 90);
	assert_int_equal(err.tag, 0x77);
	assert_int_equal(err.data, 5);
	assert_ptr_equal(err.err_data, user);
	assert_int_equal(err.err_data_size, sizeof(user));
	assert_memory_equal(user, "srd: mes", 8);
	/* or the provider's own, valid until the next readerr */
	memset(&err, 0, sizeof(err));
	assert_int_equal(fi_cq_readerr(cq, &err, 0), 1);
	assert_int_equal(err.err, ETIMEDOUT);
	assert_int_equal(err.prov_errno, ETIMEDOUT);
	assert_string_equal(err.err_data, "srd: unreachable");
	assert_int_equal(err.err_data_size, strlen("srd: unreachable") + 1);
	assert_non_null(fi_cq_strerror(cq, err.prov_errno, err.err_data, text, sizeof(text)));
	assert_string_equal(text, "srd: unreachable");
	/* an error that says it all has no err_data, and the caller's fields (left
	 * uninitialised by some applications) are not written through */
	assert_int_equal(srdfi_cq_write_err(cq_of(cq), &ctx, FI_RECV, 0, 0, 0, 0, FI_ENOMSG, 0,
					    FI_ADDR_NOTAVAIL, NULL), 0);
	err.err_data = (void *)(uintptr_t)0xdeadbeef;
	err.err_data_size = 12345;
	assert_int_equal(fi_cq_readerr(cq, &err, 0), 1);
	assert_int_equal(err.err, FI_ENOMSG);
	assert_null(err.err_data);
	assert_int_equal(err.err_data_size, 0);
	assert_int_equal(fi_cq_readerr(cq, &err, 0), -FI_EAGAIN);
	assert_int_equal(fi_cq_read(cq, &out, 1), 1); /* the good one is still there */
	assert_int_equal(fi_close(&cq->fid), 0);
	env_close(&e);
}

struct signaller {
	struct fid_cq *cq;
	struct fid_cntr *cntr;
};

static void *signal_later(void *arg)
{
	struct signaller *s = arg;

	usleep(50000);
	if (s->cq)
		fi_cq_signal(s->cq);
	if (s->cntr)
		fi_cntr_add(s->cntr, 5);
	return NULL;
}

static void test_cq_wait(void **state)
{
	struct env e;
	struct fi_cq_attr attr = { .format = FI_CQ_FORMAT_CONTEXT, .wait_obj = FI_WAIT_FD };
	struct fi_cq_entry out;
	struct epoll_event ev = { .events = EPOLLIN };
	struct fid_cq *cq;
	struct signaller s = { 0 };
	pthread_t t;
	int fd, ep, ctx;

	(void)state;
	env_open(&e); /* threading FI_THREAD_SAFE (the default): a second thread may signal */
	assert_int_equal(fi_cq_open(e.domain, &attr, &cq, NULL), 0);
	/* the wait fd works in the application's own epoll */
	assert_int_equal(fi_control(&cq->fid, FI_GETWAIT, &fd), 0);
	ep = epoll_create1(0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	assert_int_equal(fi_trywait(e.fabric, (struct fid *[]){ &cq->fid }, 1), 0);
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);
	struct srdfi_cqe zero = cqe(&ctx, 0);

	srdfi_cq_write(cq_of(cq), &zero);
	assert_int_equal(epoll_wait(ep, &ev, 1, 1000), 1);
	assert_int_equal(fi_trywait(e.fabric, (struct fid *[]){ &cq->fid }, 1), -FI_EAGAIN);
	assert_int_equal(fi_cq_sread(cq, &out, 1, NULL, 1000), 1);
	assert_ptr_equal(out.op_context, &ctx);
	/* read empty, trywait again: the fd must not stay readable (no busy loop) */
	assert_int_equal(fi_trywait(e.fabric, (struct fid *[]){ &cq->fid }, 1), 0);
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);
	/* nothing comes: a timeout */
	assert_int_equal(fi_cq_sread(cq, &out, 1, NULL, 20), -FI_EAGAIN);
	/* fi_cq_signal wakes a blocked sread */
	s.cq = cq;
	assert_int_equal(pthread_create(&t, NULL, signal_later, &s), 0);
	assert_int_equal(fi_cq_sread(cq, &out, 1, NULL, 5000), -FI_EAGAIN);
	pthread_join(t, NULL);
	/* a signal before the read counts too (fabtests' cq_signal) */
	assert_int_equal(fi_cq_signal(cq), 0);
	assert_int_equal(fi_cq_sread(cq, &out, 1, NULL, 5000), -FI_EAGAIN);
	assert_int_equal(fi_cq_sread(cq, &out, 1, NULL, 20), -FI_EAGAIN); /* spent */
	close(ep);
	assert_int_equal(fi_close(&cq->fid), 0);
	env_close(&e);
}

/* ---- counters ---- */

/* Keeps a CPU busy until told to stop (the core another process shares with us). */
static void *spin_thread(void *arg)
{
	volatile int *stop = arg;

	while (!*stop)
		;
	return NULL;
}

/*
 * Reads that find nothing: FI_SRD_YIELD 0 never yields, 1 always; unset, a wait spins
 * FI_SRD_SPIN_US, then yields once to see whether another process wants the CPU: if so
 * (that yield took long), empty reads yield at once until 64 yields in a row return at
 * once; if not, the wait spins on and looks again 50 µs later.  The rules are checked with
 * yields of given lengths (srdfi_yield_note), then one real yield handing the CPU to a
 * thread that spins on ours.
 */
static void test_idle_yield(void **state)
{
	struct env e;
	struct srdfi_domain *d;
	cpu_set_t saved, one;
	pthread_t spinner;
	volatile int stop = 0;
	uint64_t now;
	int cpu, calls;

	(void)state;
	env_open(&e);
	d = srdfi_container(e.domain, struct srdfi_domain, fid);
	d->yield = 0;
	assert_false(srdfi_read_idle(d, false));
	d->yield = 1;
	assert_true(srdfi_read_idle(d, false));
	assert_false(srdfi_read_idle(d, true));

	d->yield = SRDFI_YIELD_AUTO;
	d->spin_ns = 1000000000u; /* a second: the reads spin */
	assert_false(srdfi_read_idle(d, false));
	assert_false(srdfi_read_idle(d, false));
	d->spin_ns = 0; /* spun long enough: yield to look */
	assert_true(srdfi_read_idle(d, false));
	now = srdfi_now_ns();
	srdfi_yield_note(d, 150, now); /* returned at once: ours alone, spin on */
	assert_int_equal(d->cpu_shared, 0);
	assert_false(srdfi_read_idle(d, false));
	d->probe_after_ns = 0; /* 50 µs later: look again */
	assert_true(srdfi_read_idle(d, false));
	srdfi_yield_note(d, 20000, now); /* another process ran: shared */
	assert_int_equal(d->cpu_shared, 1);
	d->spin_ns = 1000000000u;
	assert_true(srdfi_read_idle(d, false)); /* at once, though the spin is a second */
	assert_false(srdfi_read_idle(d, true));
	for (int i = 0; i < 63; i++)
		srdfi_yield_note(d, 150, now);
	srdfi_yield_note(d, 5000, now); /* a long one: the count starts again */
	for (int i = 0; i < 63; i++)
		srdfi_yield_note(d, 150, now);
	assert_int_equal(d->cpu_shared, 1);
	srdfi_yield_note(d, 150, now); /* the 64th in a row */
	assert_int_equal(d->cpu_shared, 0);
	assert_false(srdfi_read_idle(d, false));

	/* a real yield with a thread spinning on our CPU hands the CPU over: shared */
	cpu = sched_getcpu();
	assert_true(cpu >= 0);
	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(pthread_create(&spinner, NULL, spin_thread, (void *)&stop), 0);
	assert_int_equal(pthread_setaffinity_np(spinner, sizeof(one), &one), 0);
	for (calls = 0; calls < 10000 && !d->cpu_shared; calls++)
		srdfi_yield(d);
	stop = 1;
	pthread_join(spinner, NULL);
	assert_int_equal(sched_setaffinity(0, sizeof(saved), &saved), 0);
	printf("  a yield gave the CPU to the spinning thread after %d yields\n", calls);
	assert_int_equal(d->cpu_shared, 1);
	env_close(&e);
}

static void test_cntr(void **state)
{
	struct env e;
	struct fi_cntr_attr attr = { .events = FI_CNTR_EVENTS_COMP, .wait_obj = FI_WAIT_UNSPEC };
	struct fid_cntr *c;
	struct signaller s = { 0 };
	pthread_t t;
	int fd;

	(void)state;
	env_open(&e);
	assert_int_equal(fi_cntr_open(e.domain, &attr, &c, NULL), 0);
	assert_int_equal(fi_cntr_read(c), 0);
	assert_int_equal(fi_cntr_add(c, 3), 0);
	assert_int_equal(fi_cntr_read(c), 3);
	assert_int_equal(fi_cntr_set(c, 10), 0);
	assert_int_equal(fi_cntr_read(c), 10);
	assert_int_equal(fi_cntr_wait(c, 10, 0), 0);
	assert_int_equal(fi_cntr_wait(c, 11, 20), -FI_ETIMEDOUT);
	assert_int_equal(fi_control(&c->fid, FI_GETWAIT, &fd), 0);
	/* another thread's add ends a wait */
	s.cntr = c;
	assert_int_equal(pthread_create(&t, NULL, signal_later, &s), 0);
	assert_int_equal(fi_cntr_wait(c, 15, 5000), 0);
	pthread_join(t, NULL);
	assert_int_equal(fi_cntr_adderr(c, 2), 0);
	assert_int_equal(fi_cntr_readerr(c), 2);
	assert_int_equal(fi_cntr_seterr(c, 0), 0);
	assert_int_equal(fi_cntr_readerr(c), 0);
	srdfi_cntr_inc_err(srdfi_container(c, struct srdfi_cntr, fid));
	assert_int_equal(fi_cntr_wait(c, 100, 20), -FI_ETIMEDOUT); /* the error came before */
	assert_int_equal(fi_close(&c->fid), 0);
	env_close(&e);
}

/* ---- event queues ---- */

static void test_eq(void **state)
{
	struct env e;
	struct fi_eq_attr attr = { .wait_obj = FI_WAIT_FD };
	struct fid_eq *eq;
	struct fi_eq_entry in = { .context = &e, .data = 42 }, out;
	struct epoll_event ev = { .events = EPOLLIN };
	uint8_t small[4];
	uint32_t event;
	int fd, ep;

	(void)state;
	env_open(&e);
	assert_int_equal(fi_eq_open(e.fabric, &attr, &eq, NULL), 0);
	assert_int_equal(fi_control(&eq->fid, FI_GETWAIT, &fd), 0);
	ep = epoll_create1(0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	assert_int_equal(fi_eq_read(eq, &event, &out, sizeof(out), 0), -FI_EAGAIN);
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);
	assert_int_equal(fi_eq_write(eq, FI_NOTIFY, &in, sizeof(in), 0), sizeof(in));
	assert_int_equal(epoll_wait(ep, &ev, 1, 1000), 1);
	assert_int_equal(fi_eq_read(eq, &event, small, sizeof(small), 0), -FI_ETOOSMALL);
	assert_int_equal(fi_eq_read(eq, &event, &out, sizeof(out), FI_PEEK), sizeof(out));
	assert_int_equal(fi_eq_read(eq, &event, &out, sizeof(out), 0), sizeof(out));
	assert_int_equal(event, FI_NOTIFY);
	assert_int_equal(out.data, 42);
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0); /* empty again: not readable */
	assert_int_equal(fi_eq_sread(eq, &event, &out, sizeof(out), 20, 0), -FI_EAGAIN);
	assert_int_equal(fi_eq_write(eq, FI_NOTIFY, &in, sizeof(in), 1), -FI_EINVAL);
	close(ep);
	assert_int_equal(fi_close(&eq->fid), 0);
	env_close(&e);
}

/* ---- memory regions ---- */

static void test_mr(void **state)
{
	struct env e;
	struct fid_mr *m1, *m2;
	char buf[64];

	(void)state;
	env_open(&e);
	assert_int_equal(fi_mr_reg(e.domain, buf, sizeof(buf), FI_SEND | FI_RECV, 0, 0xC0DE, 0,
				   &m1, NULL), 0);
	assert_int_equal(fi_mr_key(m1), 0xC0DE);
	assert_non_null(fi_mr_desc(m1));
	assert_int_equal(fi_mr_reg(e.domain, buf, sizeof(buf), FI_SEND, 0, 0xC0DE, 0, &m2, NULL),
			 -FI_ENOKEY);
	assert_int_equal(fi_mr_reg(e.domain, buf, sizeof(buf), 1ull << 40, 0, 1, 0, &m2, NULL),
			 -FI_EINVAL);
	assert_int_equal(fi_close(&e.domain->fid), -FI_EBUSY); /* the region is open on it */
	assert_int_equal(fi_close(&m1->fid), 0);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_codec),
		cmocka_unit_test(test_name_codec),
		cmocka_unit_test(test_info_defaults),
		cmocka_unit_test(test_info_hints),
		cmocka_unit_test(test_info_addresses),
		cmocka_unit_test(test_av_table),
		cmocka_unit_test(test_av_map),
		cmocka_unit_test(test_av_sockaddr),
		cmocka_unit_test(test_av_event),
		cmocka_unit_test(test_cq_formats),
		cmocka_unit_test(test_cq_errors),
		cmocka_unit_test(test_cq_wait),
		cmocka_unit_test(test_idle_yield),
		cmocka_unit_test(test_cntr),
		cmocka_unit_test(test_eq),
		cmocka_unit_test(test_mr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
