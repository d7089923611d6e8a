/*
 * av.c — address vectors.  An fi_addr_t is an index into the AV's table for both
 * FI_AV_TABLE and FI_AV_MAP (MAP lets the provider choose any value; the index is as good
 * as a pointer and survives the table growing).  A hash from address to index answers
 * the reverse question that FI_SOURCE and directed receives ask of every arrival.
 *
 * Inserting an address srd cannot read fails that address (FI_ADDR_NOTAVAIL), not the
 * others.  With FI_EVENT the AV reports each insertion on its bound EQ (FI_AV_COMPLETE),
 * errors as EQ error entries, as fi_av(3) says.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noop.h"
#include "srdfi.h"

static uint64_t addr_key(const struct srdc_addr *a)
{
	uint64_t k = (uint64_t)a->ipv4 << 16 | a->ep;

	k ^= k >> 31;
	k *= 0x9e3779b97f4a7c15ull;
	return k ^ (k >> 29);
}

static bool addr_eq(const struct srdc_addr *a, const struct srdc_addr *b)
{
	return a->ipv4 == b->ipv4 && a->ep == b->ep;
}

/* Put index i (of av->tab) in the hash, unless its address is there already. */
static void hash_put(struct srdfi_av *av, size_t i)
{
	size_t mask = av->hash_cap - 1, h = (size_t)addr_key(&av->tab[i].addr) & mask;

	while (av->hash[h]) {
		if (addr_eq(&av->tab[av->hash[h] - 1].addr, &av->tab[i].addr))
			return; /* the first insertion of an address answers for it */
		h = (h + 1) & mask;
	}
	av->hash[h] = (uint32_t)i + 1;
}

/* Rebuild the hash with room for n entries (after growing, or after a removal). */
static int hash_rebuild(struct srdfi_av *av, size_t n)
{
	size_t cap = 16;
	uint32_t *h;

	while (cap < 2 * n)
		cap *= 2;
	h = calloc(cap, sizeof(*h));
	if (!h)
		return -FI_ENOMEM;
	free(av->hash);
	av->hash = h;
	av->hash_cap = cap;
	for (size_t i = 0; i < av->n; i++)
		if (av->tab[i].used)
			hash_put(av, i);
	return 0;
}

fi_addr_t srdfi_av_find(const struct srdfi_av *av, const struct srdc_addr *a)
{
	size_t mask, h;

	if (!av || !av->hash)
		return FI_ADDR_NOTAVAIL;
	mask = av->hash_cap - 1;
	for (h = (size_t)addr_key(a) & mask; av->hash[h]; h = (h + 1) & mask)
		if (addr_eq(&av->tab[av->hash[h] - 1].addr, a))
			return av->hash[h] - 1;
	return FI_ADDR_NOTAVAIL;
}

int srdfi_av_get(const struct srdfi_av *av, fi_addr_t fi_addr, struct srdc_addr *out)
{
	if (!av || fi_addr >= av->n || !av->tab[fi_addr].used)
		return -FI_EINVAL;
	*out = av->tab[fi_addr].addr;
	return 0;
}

/* Room for `more` entries. */
static int av_reserve(struct srdfi_av *av, size_t more)
{
	size_t cap = av->cap ? av->cap : 64;
	struct srdfi_av_entry *t;

	if (av->n + more <= av->cap)
		return 0;
	if (av->n + more > UINT32_MAX - 1)
		return -FI_ENOSPC;
	while (cap < av->n + more)
		cap *= 2;
	t = realloc(av->tab, cap * sizeof(*t));
	if (!t)
		return -FI_ENOMEM;
	av->tab = t;
	av->cap = cap;
	return hash_rebuild(av, cap);
}

/* Report the outcome of an insertion: on the EQ (FI_EVENT), or as the return value. */
static int av_done(struct srdfi_av *av, int inserted, void *context, size_t count)
{
	struct fi_eq_entry ev = { .fid = &av->fid.fid, .context = context, .data = (uint64_t)inserted };

	if (!(av->flags & FI_EVENT) || !av->eq)
		return inserted;
	(void)count;
	srdfi_eq_post(av->eq, FI_AV_COMPLETE, &ev, sizeof(ev));
	return 0;
}

/* An address that could not be inserted: FI_ADDR_NOTAVAIL, and with FI_EVENT an error
 * entry naming its index (fi_av(3)). */
static void av_fail_one(struct srdfi_av *av, fi_addr_t *fi_addr, size_t i, void *context,
			int err)
{
	if (fi_addr)
		fi_addr[i] = FI_ADDR_NOTAVAIL;
	if ((av->flags & FI_EVENT) && av->eq)
		srdfi_eq_post_err(av->eq, &av->fid.fid, context, i, err);
}

/* Insert one address; its index goes to *out. */
static int av_put(struct srdfi_av *av, const struct srdc_addr *a, fi_addr_t *out)
{
	int rc = av_reserve(av, 1);

	if (rc)
		return rc;
	av->tab[av->n] = (struct srdfi_av_entry){ .addr = *a, .used = 1 };
	hash_put(av, av->n);
	*out = av->n++;
	return 0;
}

static int av_insert(struct fid_av *fid, const void *addr, size_t count, fi_addr_t *fi_addr,
		     uint64_t flags, void *context)
{
	struct srdfi_av *av = srdfi_container(fid, struct srdfi_av, fid);
	const uint8_t *p = addr;
	size_t len = srdfi_fmt_len(av->dom->addr_format);
	int inserted = 0;

	if ((flags & ~(FI_MORE | FI_SYNC_ERR)) || (count && !addr))
		return -FI_EINVAL;
	if ((av->flags & FI_EVENT) && !av->eq)
		return -FI_ENOEQ;
	srdfi_lock(av->dom);
	for (size_t i = 0; i < count; i++) {
		struct srdc_addr a;
		fi_addr_t f;
		int rc = srdfi_fmt_decode(av->dom->addr_format, p + i * len, len, &a);

		if (!rc && (a.ipv4 == 0 || a.ep == 0))
			rc = -FI_EINVAL; /* a domain's name, not an endpoint's */
		if (!rc)
			rc = av_put(av, &a, &f);
		if (rc) {
			av_fail_one(av, fi_addr, i, context, -rc);
			if ((flags & FI_SYNC_ERR) && context)
				((int *)context)[i] = -rc;
			continue;
		}
		if (fi_addr)
			fi_addr[i] = f;
		if ((flags & FI_SYNC_ERR) && context)
			((int *)context)[i] = 0;
		inserted++;
	}
	srdfi_unlock(av->dom);
	return av_done(av, inserted, context, count);
}

/* "a.b.c.d" and an endpoint id in decimal (srd's service is the endpoint). */
static int parse_node_service(const char *node, const char *service, struct srdc_addr *a)
{
	struct in_addr ia;
	char *end;
	unsigned long ep;

	if (!node || !service || inet_pton(AF_INET, node, &ia) != 1)
		return -FI_EINVAL;
	ep = strtoul(service, &end, 10);
	if (*end || ep == 0 || ep > UINT16_MAX)
		return -FI_EINVAL;
	a->ipv4 = ntohl(ia.s_addr);
	a->ep = (uint16_t)ep;
	return 0;
}

static int av_insertsvc(struct fid_av *fid, const char *node, const char *service,
			fi_addr_t *fi_addr, uint64_t flags, void *context)
{
	struct srdfi_av *av = srdfi_container(fid, struct srdfi_av, fid);
	struct srdc_addr a;
	uint8_t name[SRDFI_NAME_MAX];
	int rc = parse_node_service(node, service, &a);

	if (rc) {
		av_fail_one(av, fi_addr, 0, context, -rc);
		return (av->flags & FI_EVENT) && av->eq ? av_done(av, 0, context, 1) : rc;
	}
	srdfi_fmt_encode(av->dom->addr_format, name, &a);
	return av_insert(fid, name, 1, fi_addr, flags, context);
}

/* nodecnt addresses from node upwards, each with svccnt endpoint ids from service. */
static int av_insertsym(struct fid_av *fid, const char *node, size_t nodecnt,
			const char *service, size_t svccnt, fi_addr_t *fi_addr, uint64_t flags,
			void *context)
{
	struct srdfi_av *av = srdfi_container(fid, struct srdfi_av, fid);
	struct srdc_addr base;
	uint8_t *names;
	size_t n = nodecnt * svccnt, len = srdfi_fmt_len(av->dom->addr_format);
	int rc = parse_node_service(node, service, &base);

	if (rc || nodecnt == 0 || svccnt == 0 || svccnt > UINT16_MAX - base.ep + 1u)
		return rc ? rc : -FI_EINVAL;
	names = malloc(n * len);
	if (!names)
		return -FI_ENOMEM;
	for (size_t i = 0; i < nodecnt; i++) {
		for (size_t j = 0; j < svccnt; j++) {
			struct srdc_addr a = { .ipv4 = base.ipv4 + (uint32_t)i,
					       .ep = (uint16_t)(base.ep + j) };

			srdfi_fmt_encode(av->dom->addr_format, names + (i * svccnt + j) * len,
					 &a);
		}
	}
	rc = av_insert(fid, names, n, fi_addr, flags, context);
	free(names);
	return rc;
}

static int av_remove(struct fid_av *fid, fi_addr_t *fi_addr, size_t count, uint64_t flags)
{
	struct srdfi_av *av = srdfi_container(fid, struct srdfi_av, fid);
	int rc = 0;

	if (flags || (count && !fi_addr))
		return -FI_EINVAL;
	srdfi_lock(av->dom);
	for (size_t i = 0; i < count; i++) {
		if (fi_addr[i] >= av->n || !av->tab[fi_addr[i]].used) {
			rc = -FI_EINVAL;
			continue;
		}
		av->tab[fi_addr[i]].used = 0;
	}
	if (count)
		hash_rebuild(av, av->cap);
	srdfi_unlock(av->dom);
	return rc;
}

static int av_lookup(struct fid_av *fid, fi_addr_t fi_addr, void *addr, size_t *addrlen)
{
	struct srdfi_av *av = srdfi_container(fid, struct srdfi_av, fid);
	uint8_t name[SRDFI_NAME_MAX];
	size_t len = srdfi_fmt_len(av->dom->addr_format);
	struct srdc_addr a;
	int rc;

	if (!addrlen)
		return -FI_EINVAL;
	srdfi_lock(av->dom);
	rc = srdfi_av_get(av, fi_addr, &a);
	srdfi_unlock(av->dom);
	if (rc)
		return -FI_ENODATA;
	srdfi_fmt_encode(av->dom->addr_format, name, &a);
	if (addr)
		memcpy(addr, name, *addrlen < len ? *addrlen : len);
	*addrlen = len;
	return 0;
}

static const char *av_straddr(struct fid_av *fid, const void *addr, char *buf, size_t *len)
{
	struct srdfi_av *av = srdfi_container(fid, struct srdfi_av, fid);
	char s[48] = "srd://(invalid)";
	struct srdc_addr a;

	if (!srdfi_fmt_decode(av->dom->addr_format, addr, srdfi_fmt_len(av->dom->addr_format),
			      &a)) {
		struct in_addr ia = { .s_addr = htonl(a.ipv4) };
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &ia, ip, sizeof(ip));
		snprintf(s, sizeof(s), "srd://%s:%u", ip, a.ep);
	}
	if (buf && *len)
		snprintf(buf, *len, "%s", s);
	*len = strlen(s) + 1;
	return buf;
}

static int av_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
	struct srdfi_av *av = srdfi_container(fid, struct srdfi_av, fid.fid);

	if (flags || bfid->fclass != FI_CLASS_EQ || av->eq)
		return -FI_EINVAL;
	av->eq = srdfi_container(bfid, struct srdfi_eq, fid.fid);
	pthread_mutex_lock(&av->eq->lock);
	av->eq->refs++;
	pthread_mutex_unlock(&av->eq->lock);
	return 0;
}

static int av_close(struct fid *fid)
{
	struct srdfi_av *av = srdfi_container(fid, struct srdfi_av, fid.fid);
	struct srdfi_domain *d = av->dom;

	srdfi_lock(d);
	if (av->refs) {
		srdfi_unlock(d);
		return -FI_EBUSY;
	}
	d->refs--;
	srdfi_unlock(d);
	if (av->eq) {
		pthread_mutex_lock(&av->eq->lock);
		av->eq->refs--;
		pthread_mutex_unlock(&av->eq->lock);
	}
	free(av->tab);
	free(av->hash);
	free(av);
	return 0;
}

static struct fi_ops av_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = av_close,
	.bind = av_bind,
	.control = srdfi_no_control,
	.ops_open = srdfi_no_ops_open,
	.tostr = srdfi_no_tostr,
	.ops_set = srdfi_no_ops_set,
};

static int no_av_set(struct fid_av *av, struct fi_av_set_attr *attr, struct fid_av_set **set,
		     void *context)
{
	(void)av, (void)attr, (void)set, (void)context;
	return -FI_ENOSYS; /* AV sets serve collectives, which srd does not offer */
}

static struct fi_ops_av av_ops = {
	.size = sizeof(struct fi_ops_av),
	.insert = av_insert,
	.insertsvc = av_insertsvc,
	.insertsym = av_insertsym,
	.remove = av_remove,
	.lookup = av_lookup,
	.straddr = av_straddr,
	.av_set = no_av_set,
};

int srdfi_av_open(struct fid_domain *domain, struct fi_av_attr *attr, struct fid_av **out,
		  void *context)
{
	struct srdfi_domain *d = srdfi_container(domain, struct srdfi_domain, fid);
	struct srdfi_av *av;
	int rc;

	if (!attr || !out)
		return -FI_EINVAL;
	if (attr->type != FI_AV_UNSPEC && attr->type != FI_AV_MAP && attr->type != FI_AV_TABLE)
		return -FI_EINVAL;
	if (attr->name)
		return -FI_ENOSYS; /* named (shared) AVs: not offered (MPICH tries, then falls back) */
	if (attr->rx_ctx_bits || (attr->flags & ~(uint64_t)(FI_EVENT | FI_SYMMETRIC)))
		return -FI_EINVAL;
	av = calloc(1, sizeof(*av));
	if (!av)
		return -FI_ENOMEM;
	av->dom = d;
	av->type = attr->type == FI_AV_UNSPEC ? d->info->domain_attr->av_type : attr->type;
	av->flags = attr->flags;
	rc = av_reserve(av, attr->count ? attr->count : 64);
	if (rc) {
		free(av->tab);
		free(av);
		return rc;
	}
	av->fid.fid.fclass = FI_CLASS_AV;
	av->fid.fid.context = context;
	av->fid.fid.ops = &av_fi_ops;
	av->fid.ops = &av_ops;
	srdfi_lock(d);
	d->refs++;
	srdfi_unlock(d);
	*out = &av->fid;
	return 0;
}
