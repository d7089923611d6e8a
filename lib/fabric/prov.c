/*
 * prov.c — the provider object libfabric's core loads (fi_prov_ini), its parameters
 * (FI_SRD_*), fi_getinfo, and the fabric object.
 *
 * fi_getinfo asks srdd itself: it attaches (libsrd), reads the daemon's limits and
 * addresses, and detaches.  No daemon there means no srd fabric: -FI_ENODATA, with the
 * reason logged at warn level.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noop.h"
#include "srdfi.h"

/* Layering utility providers (ofi_rxm, ofi_rxd) ask core providers with this getinfo flag
 * (libfabric's internal OFI_CORE_PROV_ONLY): srd is not a base for them. */
#define SRDFI_CORE_PROV_ONLY (1ULL << 59)

#define SRDFI_DEFAULT_SOCKET "/run/srd/srdd.sock"
/* 8 MiB pieces: fewer srdd messages per segmented one, each still a small share of srdd's
 * receive area (how either side copies them does not depend on their size: srd_copy.h). */
#define SRDFI_DEFAULT_SEGMENT (8u << 20)
#define SRDFI_DEFAULT_UNEXP_HOLD (8u << 20)

static int srdfi_getinfo(uint32_t version, const char *node, const char *service,
			 uint64_t flags, const struct fi_info *hints, struct fi_info **info);
static int srdfi_fabric(struct fi_fabric_attr *attr, struct fid_fabric **fabric,
			void *context);
static void srdfi_cleanup(void);

/* libfabric's core writes into context (log and type flags): it must be writable.  This is
 * the one piece of global state of the library, as every provider has it. */
struct fi_provider srdfi_prov = {
	.version = SRDFI_PROV_VERSION,
	.fi_version = SRDFI_API_VERSION,
	.name = SRDFI_NAME,
	.getinfo = srdfi_getinfo,
	.fabric = srdfi_fabric,
	.cleanup = srdfi_cleanup,
};

FI_EXT_INI
{
	fi_param_define(&srdfi_prov, "socket", FI_PARAM_STRING,
			"srdd's control socket (default: %s)", SRDFI_DEFAULT_SOCKET);
	fi_param_define(&srdfi_prov, "addr", FI_PARAM_STRING,
			"local IPv4 address to use, one of srdd's (default: every one, a domain "
			"each, srdd's first port first)");
	fi_param_define(&srdfi_prov, "segment", FI_PARAM_SIZE_T,
			"bytes per srdd message when a larger message is segmented, its header "
			"included (default: %u, at most srdd's protocol.max_msg_mb; a power of two "
			"fills srdd's buffers best)", SRDFI_DEFAULT_SEGMENT);
	fi_param_define(&srdfi_prov, "unexp_hold", FI_PARAM_SIZE_T,
			"bytes of unexpected messages an endpoint leaves in srdd's receive "
			"buffers before copying out those the application has stopped taking "
			"(default: %u)", SRDFI_DEFAULT_UNEXP_HOLD);
	fi_param_define(&srdfi_prov, "yield", FI_PARAM_BOOL,
			"give the CPU away (sched_yield) when a CQ or counter read finds nothing: "
			"yes at once (processes that share a core with each other or with srdd), no "
			"never (each process has a core of its own); unset, a wait spins "
			"FI_SRD_SPIN_US, yields once, and then yields at once if another process "
			"took the CPU, else spins on (default: unset)");
	fi_param_define(&srdfi_prov, "spin_us", FI_PARAM_SIZE_T,
			"with FI_SRD_YIELD unset: microseconds a wait (CQ or counter reads that "
			"find nothing) spins before its first yield (default: %u)",
			SRDFI_DEFAULT_SPIN_US);
	return &srdfi_prov;
}

static void srdfi_cleanup(void)
{
}

void srdfi_params_get(struct srdfi_params *p)
{
	char *s = NULL;
	size_t v;
	int b;

	memset(p, 0, sizeof(*p));
	snprintf(p->socket, sizeof(p->socket), "%s", SRDFI_DEFAULT_SOCKET);
	if (fi_param_get_str(&srdfi_prov, "socket", &s) == FI_SUCCESS && s && *s)
		snprintf(p->socket, sizeof(p->socket), "%s", s);
	s = NULL;
	if (fi_param_get_str(&srdfi_prov, "addr", &s) == FI_SUCCESS && s)
		snprintf(p->addr, sizeof(p->addr), "%s", s);
	p->segment = SRDFI_DEFAULT_SEGMENT;
	if (fi_param_get_size_t(&srdfi_prov, "segment", &v) == FI_SUCCESS && v >= 4096)
		p->segment = v;
	p->unexp_hold = SRDFI_DEFAULT_UNEXP_HOLD;
	if (fi_param_get_size_t(&srdfi_prov, "unexp_hold", &v) == FI_SUCCESS)
		p->unexp_hold = v;
	p->yield = SRDFI_YIELD_AUTO;
	if (fi_param_get_bool(&srdfi_prov, "yield", &b) == FI_SUCCESS)
		p->yield = b != 0;
	p->spin_us = SRDFI_DEFAULT_SPIN_US;
	if (fi_param_get_size_t(&srdfi_prov, "spin_us", &v) == FI_SUCCESS && v <= 1000000)
		p->spin_us = v;
}

const char *srdfi_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case ETIMEDOUT: return "peer unreachable: srdd's retry budget ran out";
	case ECONNRESET: return "peer restarted or forgot the connection";
	case ECONNREFUSED: return "peer's connection table is full";
	case ENXIO: return "no such endpoint at the peer";
	case EADDRNOTAVAIL: return "no such local address or worker";
	case EMSGSIZE: return "message too long for the peer";
	case ENOBUFS: return "peer had no receive buffer for too long";
	case ECANCELED: return "canceled";
	case ENOTCONN: return "srdd went away";
	case FI_ETRUNC: return "message longer than the receive buffer";
	case ENOMSG: return "no matching message";
	default: return "error";
	}
}

/* ---- fi_getinfo ---- */

static int srdfi_getinfo(uint32_t version, const char *node, const char *service,
			 uint64_t flags, const struct fi_info *hints, struct fi_info **info)
{
	struct srdfi_params params;
	struct srdc_info di;
	struct srdc *h;
	int rc;

	*info = NULL;
	if (flags & SRDFI_CORE_PROV_ONLY)
		return -FI_ENODATA; /* a utility provider looking for a base: not us */
	if (hints && hints->ep_attr && hints->ep_attr->type != FI_EP_UNSPEC &&
	    hints->ep_attr->type != FI_EP_RDM)
		return -FI_ENODATA; /* say nothing: RDM is all there is, no daemon needed */
	srdfi_params_get(&params);
	rc = srdc_attach(params.socket, "fi_getinfo", &h);
	if (rc) {
		SRDFI_WARN(FI_LOG_CORE, "no srdd at %s (%s): start srdd, or set FI_SRD_SOCKET to "
			   "its control socket\n", params.socket, strerror(-rc));
		return -FI_ENODATA;
	}
	srdc_info(h, &di);
	srdc_detach(h);
	rc = srdfi_info_build(version, node, service, flags, hints, &di, &params, info);
	if (rc == -FI_ENODATA)
		SRDFI_INFO(FI_LOG_CORE, "srdd at %s cannot meet the hints\n", params.socket);
	return rc;
}

/* ---- the fabric ---- */

static int fabric_close(struct fid *fid)
{
	struct srdfi_fabric *f = srdfi_container(fid, struct srdfi_fabric, fid.fid);

	if (f->refs)
		return -FI_EBUSY;
	free(f);
	return 0;
}

static int fabric_trywait(struct fid_fabric *fabric, struct fid **fids, int count)
{
	(void)fabric;
	for (int i = 0; i < count; i++) {
		struct srdfi_domain *d = NULL;
		int rc;

		switch (fids[i]->fclass) {
		case FI_CLASS_CQ: {
			struct srdfi_cq *cq = srdfi_container(fids[i], struct srdfi_cq, fid.fid);

			d = cq->dom;
			srdfi_lock(d);
			srdfi_waiter_drain(&cq->w); /* what it said is checked just below */
			srdfi_progress(d);
			rc = srdfi_cq_pending(cq) ? -FI_EAGAIN : srdfi_domain_arm(d);
			srdfi_unlock(d);
			break;
		}
		case FI_CLASS_CNTR: {
			struct srdfi_cntr *c = srdfi_container(fids[i], struct srdfi_cntr, fid.fid);

			d = c->dom;
			srdfi_lock(d);
			srdfi_waiter_drain(&c->w);
			srdfi_progress(d);
			rc = srdfi_domain_arm(d);
			srdfi_unlock(d);
			break;
		}
		case FI_CLASS_EQ: {
			struct srdfi_eq *eq = srdfi_container(fids[i], struct srdfi_eq, fid.fid);

			pthread_mutex_lock(&eq->lock);
			rc = srdfi_list_empty(&eq->events) ? 0 : -FI_EAGAIN;
			pthread_mutex_unlock(&eq->lock);
			break;
		}
		default:
			return -FI_EINVAL;
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int fabric_domain2(struct fid_fabric *fabric, struct fi_info *info,
			  struct fid_domain **dom, uint64_t flags, void *context);

static int fabric_domain(struct fid_fabric *fabric, struct fi_info *info,
			 struct fid_domain **dom, void *context)
{
	return fabric_domain2(fabric, info, dom, 0, context);
}

static int fabric_passive_ep(struct fid_fabric *fabric, struct fi_info *info,
			     struct fid_pep **pep, void *context)
{
	(void)fabric, (void)info, (void)pep, (void)context;
	return -FI_ENOSYS; /* connection-oriented endpoints (FI_EP_MSG): srd has none */
}

static int fabric_wait_open(struct fid_fabric *fabric, struct fi_wait_attr *attr,
			    struct fid_wait **waitset)
{
	(void)fabric, (void)attr, (void)waitset;
	return -FI_ENOSYS; /* wait sets: CQs, counters and EQs have their own fds */
}

static struct fi_ops fabric_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = fabric_close,
	.bind = srdfi_no_bind,
	.control = srdfi_no_control,
	.ops_open = srdfi_no_ops_open,
	.tostr = srdfi_no_tostr,
	.ops_set = srdfi_no_ops_set,
};

static struct fi_ops_fabric fabric_ops = {
	.size = sizeof(struct fi_ops_fabric),
	.domain = fabric_domain,
	.passive_ep = fabric_passive_ep,
	.eq_open = srdfi_eq_open,
	.wait_open = fabric_wait_open,
	.trywait = fabric_trywait,
	.domain2 = fabric_domain2,
};

static int srdfi_fabric(struct fi_fabric_attr *attr, struct fid_fabric **fabric,
			void *context)
{
	struct srdfi_fabric *f;

	if (!attr || !fabric)
		return -FI_EINVAL;
	if (attr->name && strcmp(attr->name, SRDFI_NAME))
		return -FI_ENODATA;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -FI_ENOMEM;
	f->fid.fid.fclass = FI_CLASS_FABRIC;
	f->fid.fid.context = context;
	f->fid.fid.ops = &fabric_fi_ops;
	f->fid.ops = &fabric_ops;
	f->api_version = attr->api_version;
	srdfi_params_get(&f->params);
	*fabric = &f->fid;
	return 0;
}

/* fabric_domain2 is the domain's constructor: in domain.c, reached through this table. */
int srdfi_domain_open(struct srdfi_fabric *fab, struct fi_info *info,
		      struct fid_domain **dom, void *context);

static int fabric_domain2(struct fid_fabric *fabric, struct fi_info *info,
			  struct fid_domain **dom, uint64_t flags, void *context)
{
	struct srdfi_fabric *f = srdfi_container(fabric, struct srdfi_fabric, fid);

	if (flags)
		return -FI_EINVAL; /* FI_PEER: not supported */
	return srdfi_domain_open(f, info, dom, context);
}
