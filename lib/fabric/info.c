/*
 * info.c — what the srd provider offers, as fi_info structures, checked against an
 * application's hints.
 *
 * libfabric's core checks nothing for an external provider: every hint is checked here,
 * and anything srd cannot meet makes the answer -FI_ENODATA.  One fi_info per local
 * address of srdd (its domains are named by the address, "10.77.0.1"), the daemon's first
 * port first; FI_SRD_ADDR, a src_addr in the hints, or a node with FI_SOURCE that is one
 * of srdd's addresses narrows it to one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srdfi.h"

/* Primary and secondary capabilities. */
#define SRDFI_CAPS (FI_MSG | FI_TAGGED | FI_SEND | FI_RECV | FI_DIRECTED_RECV | \
		    FI_MULTI_RECV | FI_SOURCE | FI_LOCAL_COMM | FI_REMOTE_COMM)
/* Taken only when asked: they change what a receive's source address means. */
#define SRDFI_CAPS_ON_REQUEST (FI_DIRECTED_RECV | FI_SOURCE)
#define SRDFI_DOMAIN_CAPS (FI_LOCAL_COMM | FI_REMOTE_COMM)
#define SRDFI_TX_CAPS (FI_MSG | FI_TAGGED | FI_SEND)
#define SRDFI_RX_CAPS (FI_MSG | FI_TAGGED | FI_RECV | FI_DIRECTED_RECV | FI_MULTI_RECV | \
		       FI_SOURCE)
/* Orders srd keeps: send-after-send; the RMA and atomic ones hold vacuously (no RMA). */
#define SRDFI_ORDERS (FI_ORDER_SAS | FI_ORDER_RAR | FI_ORDER_RAW | FI_ORDER_RAS | \
		      FI_ORDER_WAR | FI_ORDER_WAW | FI_ORDER_WAS | FI_ORDER_SAR | FI_ORDER_SAW)
#define SRDFI_TX_OP_FLAGS (FI_COMPLETION | FI_INJECT | FI_INJECT_COMPLETE | \
			   FI_TRANSMIT_COMPLETE | FI_DELIVERY_COMPLETE)
#define SRDFI_RX_OP_FLAGS (FI_COMPLETION | FI_MULTI_RECV)

/* The largest queue sizes an application may ask for. */
#define SRDFI_MAX_QUEUE 65536u

static int check_ep_attr(const struct fi_ep_attr *h)
{
	if (!h)
		return 0;
	if (h->type != FI_EP_UNSPEC && h->type != FI_EP_RDM)
		return -FI_ENODATA;
	if (h->protocol != FI_PROTO_UNSPEC)
		return -FI_ENODATA; /* srd's protocol has no libfabric number */
	if (h->max_msg_size > SRDFI_MAX_MSG || h->msg_prefix_size || h->max_order_raw_size ||
	    h->max_order_war_size || h->max_order_waw_size)
		return -FI_ENODATA;
	if (h->tx_ctx_cnt > 1 || h->rx_ctx_cnt > 1 || h->auth_key_size)
		return -FI_ENODATA; /* no scalable or shared contexts, no auth keys */
	return 0;
}

static int check_domain_attr(const struct fi_domain_attr *h)
{
	if (!h)
		return 0;
	if (h->control_progress == FI_PROGRESS_AUTO || h->data_progress == FI_PROGRESS_AUTO)
		return -FI_ENODATA; /* progress happens in the application's calls */
	if (h->cq_data_size > 8 || h->mr_key_size > 8 || h->auth_key_size)
		return -FI_ENODATA;
	if (h->caps & ~SRDFI_DOMAIN_CAPS)
		return -FI_ENODATA;
	if (h->av_type != FI_AV_UNSPEC && h->av_type != FI_AV_MAP && h->av_type != FI_AV_TABLE)
		return -FI_ENODATA;
	return 0; /* its mode says what the application copes with: srd asks for none */
}

static int check_tx_attr(const struct fi_tx_attr *h)
{
	if (!h)
		return 0;
	if ((h->caps & ~SRDFI_TX_CAPS & ~SRDFI_DOMAIN_CAPS) || (h->op_flags & ~SRDFI_TX_OP_FLAGS))
		return -FI_ENODATA;
	if ((h->msg_order & ~SRDFI_ORDERS) || h->comp_order != FI_ORDER_NONE)
		return -FI_ENODATA;
	if (h->inject_size > SRDFI_INJECT_SIZE || h->size > SRDFI_MAX_QUEUE ||
	    h->iov_limit > SRDFI_IOV_LIMIT || h->rma_iov_limit)
		return -FI_ENODATA;
	return 0;
}

static int check_rx_attr(const struct fi_rx_attr *h)
{
	if (!h)
		return 0;
	if ((h->caps & ~SRDFI_RX_CAPS & ~SRDFI_DOMAIN_CAPS) || (h->op_flags & ~SRDFI_RX_OP_FLAGS))
		return -FI_ENODATA;
	if ((h->msg_order & ~SRDFI_ORDERS) || h->comp_order != FI_ORDER_NONE)
		return -FI_ENODATA;
	if (h->size > SRDFI_MAX_QUEUE || h->iov_limit > SRDFI_RX_IOV_LIMIT ||
	    h->total_buffered_recv)
		return -FI_ENODATA;
	return 0;
}

/* The hints srd can never meet, whatever the address. */
static int check_hints(const struct fi_info *h)
{
	uint32_t fmt;
	int rc;

	if (!h)
		return 0;
	if (h->caps & ~SRDFI_CAPS)
		return -FI_ENODATA; /* FI_RMA, FI_ATOMIC, FI_HMEM, FI_TRIGGER, ... */
	if (srdfi_addr_format(h->addr_format) < 0)
		return -FI_ENODATA; /* srd's own names, or IPv4 socket addresses */
	if (h->fabric_attr && h->fabric_attr->name && strcmp(h->fabric_attr->name, SRDFI_NAME))
		return -FI_ENODATA;
	if ((rc = check_ep_attr(h->ep_attr)) || (rc = check_domain_attr(h->domain_attr)) ||
	    (rc = check_tx_attr(h->tx_attr)) || (rc = check_rx_attr(h->rx_attr)))
		return rc;
	fmt = (uint32_t)srdfi_addr_format(h->addr_format);
	if (h->dest_addr &&
	    srdfi_fmt_decode(fmt, h->dest_addr, h->dest_addrlen, &(struct srdc_addr){ 0 }))
		return -FI_ENODATA;
	if (h->src_addr &&
	    srdfi_fmt_decode(fmt, h->src_addr, h->src_addrlen, &(struct srdc_addr){ 0 }))
		return -FI_ENODATA;
	return 0;
}

/* IPv4 of a node name (dotted, or a name resolved to IPv4), host byte order; 0 if none. */
static uint32_t node_ipv4(const char *node, uint64_t flags)
{
	struct addrinfo hints = { .ai_family = AF_INET }, *res;
	struct in_addr ia;
	uint32_t ip = 0;

	if (inet_pton(AF_INET, node, &ia) == 1)
		return ntohl(ia.s_addr);
	if (flags & FI_NUMERICHOST)
		return 0;
	if (getaddrinfo(node, NULL, &hints, &res) == 0) {
		ip = ntohl(((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr.s_addr);
		freeaddrinfo(res);
	}
	return ip;
}

/* A name in format fmt copied into a fresh allocation (fi_freeinfo frees it). */
static void *name_dup(uint32_t fmt, const struct srdc_addr *a)
{
	uint8_t *p = malloc(srdfi_fmt_len(fmt));

	if (p)
		srdfi_fmt_encode(fmt, p, a);
	return p;
}

/* The names an application's hints ask for (checked by check_hints). */
static uint32_t hints_format(const struct fi_info *h)
{
	return h ? (uint32_t)srdfi_addr_format(h->addr_format) : FI_FORMAT_UNSPEC;
}

static uint64_t caps_for(const struct fi_info *h)
{
	if (!h)
		return SRDFI_CAPS;
	if (!h->caps)
		return SRDFI_CAPS & ~SRDFI_CAPS_ON_REQUEST;
	/* what was asked, and the secondary capabilities srd always has */
	return (h->caps | SRDFI_DOMAIN_CAPS) & SRDFI_CAPS;
}

/* The one info for local address ipv4 (0: srdd's default address). */
static struct fi_info *info_one(uint32_t version, uint32_t ipv4, const struct fi_info *h,
				const struct srdc_info *di, const struct srdc_addr *dest)
{
	struct fi_info *fi = fi_allocinfo();
	const struct fi_tx_attr *ht = h ? h->tx_attr : NULL;
	const struct fi_rx_attr *hr = h ? h->rx_attr : NULL;
	const struct fi_domain_attr *hd = h ? h->domain_attr : NULL;
	const struct fi_ep_attr *he = h ? h->ep_attr : NULL;
	uint64_t caps = caps_for(h);
	uint32_t fmt = hints_format(h);
	char name[INET_ADDRSTRLEN] = SRDFI_NAME;
	struct srdc_addr src = { .ipv4 = ipv4, .ep = 0 };

	if (!fi)
		return NULL;
	if (ipv4) {
		struct in_addr ia = { .s_addr = htonl(ipv4) };

		inet_ntop(AF_INET, &ia, name, sizeof(name));
	}
	fi->caps = caps;
	fi->mode = 0; /* srd needs nothing of the application: no context space, no prefix */
	fi->addr_format = fmt;
	fi->src_addrlen = srdfi_fmt_len(fmt);
	fi->src_addr = name_dup(fmt, &src);
	if (dest) {
		fi->dest_addrlen = srdfi_fmt_len(fmt);
		fi->dest_addr = name_dup(fmt, dest);
	}

	fi->tx_attr->caps = caps & SRDFI_TX_CAPS;
	fi->tx_attr->mode = 0;
	fi->tx_attr->op_flags = ht ? ht->op_flags : 0;
	fi->tx_attr->msg_order = ht ? ht->msg_order : FI_ORDER_NONE;
	fi->tx_attr->comp_order = FI_ORDER_NONE;
	fi->tx_attr->inject_size = SRDFI_INJECT_SIZE;
	fi->tx_attr->size = ht && ht->size > SRDFI_TX_SIZE ? ht->size : SRDFI_TX_SIZE;
	fi->tx_attr->iov_limit = SRDFI_IOV_LIMIT;
	fi->tx_attr->rma_iov_limit = 0;

	fi->rx_attr->caps = caps & SRDFI_RX_CAPS;
	fi->rx_attr->mode = 0;
	fi->rx_attr->op_flags = hr ? hr->op_flags : 0;
	fi->rx_attr->msg_order = hr ? hr->msg_order : FI_ORDER_NONE;
	fi->rx_attr->comp_order = FI_ORDER_NONE;
	fi->rx_attr->total_buffered_recv = 0;
	fi->rx_attr->size = hr && hr->size > SRDFI_RX_SIZE ? hr->size : SRDFI_RX_SIZE;
	fi->rx_attr->iov_limit = SRDFI_RX_IOV_LIMIT;

	fi->ep_attr->type = FI_EP_RDM;
	fi->ep_attr->protocol = FI_PROTO_UNSPEC;
	fi->ep_attr->protocol_version = SRDFI_WIRE_VERSION;
	fi->ep_attr->max_msg_size = SRDFI_MAX_MSG;
	fi->ep_attr->msg_prefix_size = 0;
	/* all 64 tag bits are the application's (Open MPI counts the leading zeros) */
	fi->ep_attr->mem_tag_format = he && he->mem_tag_format ? he->mem_tag_format : UINT64_MAX;
	fi->ep_attr->tx_ctx_cnt = 1;
	fi->ep_attr->rx_ctx_cnt = 1;

	fi->domain_attr->name = strdup(name);
	fi->domain_attr->threading = hd && hd->threading != FI_THREAD_UNSPEC ?
					     hd->threading : FI_THREAD_SAFE;
	fi->domain_attr->control_progress = FI_PROGRESS_MANUAL;
	fi->domain_attr->data_progress = FI_PROGRESS_MANUAL;
	fi->domain_attr->resource_mgmt = FI_RM_ENABLED;
	fi->domain_attr->av_type = hd && hd->av_type != FI_AV_UNSPEC ? hd->av_type : FI_AV_TABLE;
	fi->domain_attr->mr_mode = version < FI_VERSION(1, 5) ? FI_MR_SCALABLE : 0;
	fi->domain_attr->mr_key_size = 8;
	fi->domain_attr->cq_data_size = 8;
	fi->domain_attr->cq_cnt = 1024;
	fi->domain_attr->ep_cnt = 1024;
	fi->domain_attr->tx_ctx_cnt = 1024;
	fi->domain_attr->rx_ctx_cnt = 1024;
	fi->domain_attr->max_ep_tx_ctx = 1;
	fi->domain_attr->max_ep_rx_ctx = 1;
	fi->domain_attr->max_ep_stx_ctx = 0;
	fi->domain_attr->max_ep_srx_ctx = 0;
	fi->domain_attr->cntr_cnt = 1024;
	fi->domain_attr->mr_iov_limit = SRDFI_RX_IOV_LIMIT;
	fi->domain_attr->caps = caps & SRDFI_DOMAIN_CAPS;
	fi->domain_attr->mode = 0;
	fi->domain_attr->mr_cnt = 1u << 20;
	fi->domain_attr->tclass = FI_TC_UNSPEC;

	fi->fabric_attr->name = strdup(SRDFI_NAME);
	fi->fabric_attr->prov_version = SRDFI_PROV_VERSION;
	fi->fabric_attr->api_version = version;

	if (!fi->src_addr || (dest && !fi->dest_addr) || !fi->domain_attr->name ||
	    !fi->fabric_attr->name) {
		fi_freeinfo(fi);
		return NULL;
	}
	(void)di;
	return fi;
}

int srdfi_info_build(uint32_t version, const char *node, const char *service,
		     uint64_t flags, const struct fi_info *hints, const struct srdc_info *di,
		     const struct srdfi_params *params, struct fi_info **out)
{
	uint32_t addrs[SRDC_MAX_ADDRS + 1], want = 0;
	struct srdc_addr dest = { 0 }, *destp = NULL;
	const char *dom_name = hints && hints->domain_attr ? hints->domain_attr->name : NULL;
	struct fi_info *head = NULL, **tail = &head;
	unsigned n = 0;
	int rc;

	(void)service; /* a port means nothing to srd: endpoints are named by srdd */
	*out = NULL;
	if (version < FI_VERSION(1, 0) || version > SRDFI_API_VERSION)
		return -FI_ENODATA;
	rc = check_hints(hints);
	if (rc)
		return rc;
	for (unsigned i = 0; i < di->naddrs; i++)
		addrs[n++] = di->addrs[i];
	if (n == 0)
		addrs[n++] = 0; /* an srdd that did not say: its default address */

	/* which local address: FI_SRD_ADDR, the hints' src_addr, or a node with FI_SOURCE
	 * naming one of srdd's (another node, 127.0.0.1 say, leaves the choice open: the
	 * endpoint's name is what the peers need, and srdd gives it) */
	if (params->addr[0])
		want = node_ipv4(params->addr, FI_NUMERICHOST);
	if (!want && hints && hints->src_addr) {
		struct srdc_addr a;

		srdfi_fmt_decode(hints_format(hints), hints->src_addr, hints->src_addrlen, &a);
		want = a.ipv4;
	}
	if (!want && node && (flags & FI_SOURCE)) {
		uint32_t ip = node_ipv4(node, flags);

		for (unsigned i = 0; i < n && !want; i++)
			if (addrs[i] == ip)
				want = ip;
	}
	if (params->addr[0] && !want) {
		SRDFI_WARN(FI_LOG_CORE, "FI_SRD_ADDR=%s is not an IPv4 address\n", params->addr);
		return -FI_ENODATA;
	}

	/* the peer: hints' dest_addr, or a node without FI_SOURCE */
	if (hints && hints->dest_addr) {
		srdfi_fmt_decode(hints_format(hints), hints->dest_addr, hints->dest_addrlen,
				 &dest);
		destp = &dest;
	} else if (node && !(flags & FI_SOURCE)) {
		dest.ipv4 = node_ipv4(node, flags);
		if (dest.ipv4)
			destp = &dest;
	}

	for (unsigned i = 0; i < n; i++) {
		char name[INET_ADDRSTRLEN] = SRDFI_NAME;
		struct fi_info *fi;

		if (want && addrs[i] != want && addrs[i] != 0)
			continue;
		if (addrs[i]) {
			struct in_addr ia = { .s_addr = htonl(addrs[i]) };

			inet_ntop(AF_INET, &ia, name, sizeof(name));
		}
		if (dom_name && strcmp(dom_name, name))
			continue;
		fi = info_one(version, want && addrs[i] == 0 ? want : addrs[i], hints, di, destp);
		if (!fi) {
			fi_freeinfo(head);
			return -FI_ENOMEM;
		}
		*tail = fi;
		tail = &fi->next;
	}
	if (!head)
		return -FI_ENODATA;
	*out = head;
	return 0;
}
