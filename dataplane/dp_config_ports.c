/*
 * dp_config_ports.c — the "ports" section of srdd's configuration (docs/config.md): each
 * port's type, device, addresses, MAC, MTU and rings, its gateway, routes and static
 * neighbours, its impairment stage, then the ports' uniqueness.  The address and device
 * syntax checks live here too (only ports have addresses).
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dp_config_int.h"

/* ---- addresses ---- */

static uint32_t prefix_mask(uint8_t len)
{
	return len ? ~0u << (32 - len) : 0;
}

/* A dotted-quad IPv4 address (host byte order). */
static int parse_ip(struct ld *l, const char *key, const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return dp_cfg_bad(l, key, "\"%s\" is not an IPv4 address (a.b.c.d)", s);
	*ip = ntohl(a.s_addr);
	return 0;
}

/* "a.b.c.d/len" with len in [minlen, 32]. */
static int parse_prefix(struct ld *l, const char *key, const char *s, uint8_t minlen,
			uint32_t *ip, uint8_t *len)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	const char *p;
	unsigned n = 0;
	size_t alen;

	if (!slash || slash[1] == '\0')
		return dp_cfg_bad(l, key, "\"%s\" is not an address with a prefix length "
					  "(a.b.c.d/len)", s);
	alen = (size_t)(slash - s);
	if (alen >= sizeof(addr))
		return dp_cfg_bad(l, key, "\"%s\" is not an IPv4 address (a.b.c.d)", s);
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	for (p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9' || p - slash > 2)
			return dp_cfg_bad(l, key, "\"%s\": the prefix length must be a number in "
						  "[%u, 32]", s, minlen);
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (n < minlen || n > 32)
		return dp_cfg_bad(l, key, "\"%s\": the prefix length %u is out of range [%u, 32]",
				  s, n, minlen);
	*len = (uint8_t)n;
	if (parse_ip(l, key, addr, ip))
		return dp_cfg_bad(l, key, "\"%s\" is not an IPv4 address with a prefix length "
					  "(a.b.c.d/len)", s);
	return 0;
}

static void ip_str(uint32_t ip, char *buf)
{
	struct in_addr a = { .s_addr = htonl(ip) };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* A local address: unicast, not loopback, and (on subnets of more than two addresses) not
 * the subnet's own address or its broadcast address. */
static int check_host(struct ld *l, const char *key, const char *s, uint32_t ip, uint8_t len)
{
	uint32_t host = ip & ~prefix_mask(len);

	if ((ip >> 24) == 0 || (ip >> 24) == 127 || ip >= 0xe0000000u)
		return dp_cfg_bad(l, key, "\"%s\" is not a unicast address", s);
	if (len <= 30 && (host == 0 || host == ~prefix_mask(len)))
		return dp_cfg_bad(l, key, "\"%s\" is the %s address of its subnet, not a host", s,
				  host == 0 ? "network" : "broadcast");
	return 0;
}

/* "xx:xx:xx:xx:xx:xx", unicast and not zero. */
static int parse_mac(struct ld *l, const char *key, const char *s, uint8_t mac[6])
{
	bool zero = true;

	if (strlen(s) != 17)
		goto bad_form;
	for (int i = 0; i < 6; i++) {
		unsigned b = 0;

		for (int k = 0; k < 2; k++) {
			char c = s[3 * i + k];

			if (c >= '0' && c <= '9')
				b = b * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				b = b * 16 + (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				b = b * 16 + (unsigned)(c - 'A' + 10);
			else
				goto bad_form;
		}
		if (i < 5 && s[3 * i + 2] != ':')
			goto bad_form;
		mac[i] = (uint8_t)b;
		zero = zero && b == 0;
	}
	if (zero)
		return dp_cfg_bad(l, key, "\"%s\" is the zero MAC address", s);
	if (mac[0] & 1)
		return dp_cfg_bad(l, key, "\"%s\" is a multicast MAC address, not a unicast one",
				  s);
	return 0;
bad_form:
	return dp_cfg_bad(l, key, "\"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)", s);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A PCI address, [DDDD:]BB:DD.F, optionally followed by ",devargs". */
static int check_pci(struct ld *l, const char *key, const char *s)
{
	size_t n = strcspn(s, ",");
	const char *p = s;

	if (n == 12 && s[4] == ':')
		p = s + 5; /* skip the domain after checking it */
	else if (n != 7)
		goto bad_form;
	for (const char *q = s; q < p - 1; q++)
		if (!is_hex(*q))
			goto bad_form;
	if (!is_hex(p[0]) || !is_hex(p[1]) || p[2] != ':' || !is_hex(p[3]) || !is_hex(p[4]) ||
	    p[5] != '.' || p[6] < '0' || p[6] > '7')
		goto bad_form;
	if (p[3] > '1') /* device numbers are 5 bits: 00..1f */
		goto bad_form;
	return 0;
bad_form:
	return dp_cfg_bad(l, key, "\"%s\" is not a PCI address (DDDD:BB:DD.F)", s);
}

/* A vdev string: a driver instance name of [a-z0-9_], then optionally ",key=value...". */
static int check_vdev(struct ld *l, const char *key, const char *s)
{
	size_t n = strcspn(s, ",");

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			goto bad_form;
	}
	if (n == 0 || strpbrk(s, " \t\n") != NULL)
		goto bad_form;
	return 0;
bad_form:
	return dp_cfg_bad(l, key, "\"%s\" is not a DPDK vdev string (e.g. \"net_tap0,iface=srd0\")",
			  s);
}

/* ---- one port ---- */

/* The settings of one impairment path (the defaults of all, or a per_path override). */
static int parse_impair_path(struct ld *l, json_t *o, struct dp_impair_path *p)
{
	double rate = p->rate_bps / 1e9;
	uint32_t ecn_kb = (uint32_t)(p->ecn_bytes / 1024);
	int rc;

	if ((rc = dp_cfg_get_us(l, o, "delay_us", 0, 1e6, &p->delay_ns)) ||
	    (rc = dp_cfg_get_num(l, o, "loss", 0, 1, &p->loss)) ||
	    (rc = dp_cfg_get_num(l, o, "rate_gbps", 0, 1000, &rate)) ||
	    (rc = dp_cfg_get_u32(l, o, "ecn_kb", 0, 1u << 20, &ecn_kb)))
		return rc;
	if (rate != 0 && rate < 0.001)
		return dp_cfg_bad(l, "rate_gbps",
				  "%g is out of range: 0 (unlimited) or [0.001, 1000]", rate);
	p->rate_bps = (uint64_t)(rate * 1e9 + 0.5);
	p->ecn_bytes = (uint64_t)ecn_kb * 1024u;
	return 0;
}

/* "impair" of the port at the current path: every path gets the stage's settings, then
 * "blackhole" marks paths, then each "per_path" entry overrides the keys it gives. */
static int parse_impair(struct ld *l, json_t *port, struct dp_impair_cfg *im)
{
	static const char *const keys[] = { "enabled", "paths", "seed", "delay_us", "loss",
					    "rate_gbps", "ecn_kb", "blackhole", "per_path", NULL };
	static const char *const pkeys[] = { "path", "delay_us", "loss", "rate_gbps", "ecn_kb",
					     "blackhole", NULL };
	struct dp_impair_path dflt = { 0 };
	bool seen[DP_MAX_IMPAIR_PATHS] = { false };
	json_t *o, *arr, *v;
	size_t i, old, o2;
	int rc = dp_cfg_get_obj(l, port, "impair", &o);

	if (rc || !o)
		return rc;
	old = dp_cfg_path_key(l, "impair");
	im->enabled = 1; /* the section is there: on unless it says "enabled": false */
	im->npaths = 8;
	im->seed = 1;
	if ((rc = dp_cfg_only_keys(l, o, keys)) ||
	    (rc = dp_cfg_get_bool(l, o, "enabled", &im->enabled)) ||
	    (rc = dp_cfg_get_u32(l, o, "paths", 1, DP_MAX_IMPAIR_PATHS, &im->npaths)))
		goto out;
	if ((rc = dp_cfg_get_seed(l, o, "seed", &im->seed)))
		goto out;
	if ((rc = parse_impair_path(l, o, &dflt)))
		goto out;
	for (i = 0; i < im->npaths; i++)
		im->path[i] = dflt;
	if ((rc = dp_cfg_get_arr(l, o, "blackhole", DP_MAX_IMPAIR_PATHS, &arr)))
		goto out;
	if (arr) {
		o2 = dp_cfg_path_key(l, "blackhole");
		json_array_foreach(arr, i, v) {
			long long k = 0;
			size_t o3 = dp_cfg_path_idx(l, i);

			rc = dp_cfg_check_int(l, NULL, v, 0, im->npaths - 1, &k);
			dp_cfg_path_pop(l, o3);
			if (rc)
				break;
			im->path[k].blackhole = 1;
		}
		dp_cfg_path_pop(l, o2);
		if (rc)
			goto out;
	}
	if ((rc = dp_cfg_get_arr(l, o, "per_path", DP_MAX_IMPAIR_PATHS, &arr)) || !arr)
		goto out;
	o2 = dp_cfg_path_key(l, "per_path");
	json_array_foreach(arr, i, v) {
		size_t o3 = dp_cfg_path_idx(l, i);
		json_t *pv;
		long long k = 0;

		if (!json_is_object(v))
			rc = dp_cfg_bad(l, NULL, "expected an object, got %s", dp_cfg_type_name(v));
		else if (!(pv = json_object_get(v, "path")))
			rc = dp_cfg_bad(l, NULL, "missing key \"path\"");
		else if (!(rc = dp_cfg_only_keys(l, v, pkeys)) &&
			 !(rc = dp_cfg_check_int(l, "path", pv, 0, im->npaths - 1, &k))) {
			if (seen[k])
				rc = dp_cfg_bad(l, "path", "path %lld is set twice in per_path", k);
			else if (!(rc = parse_impair_path(l, v, &im->path[k])))
				rc = dp_cfg_get_bool(l, v, "blackhole", &im->path[k].blackhole);
			seen[k] = true;
		}
		dp_cfg_path_pop(l, o3);
		if (rc)
			break;
	}
	dp_cfg_path_pop(l, o2);
out:
	dp_cfg_path_pop(l, old);
	return rc;
}

/* The port's subnet (for messages). */
static void subnet_str(const struct dp_port_cfg *p, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	ip_str(p->ipv4 & prefix_mask(p->prefix_len), a);
	snprintf(buf, len, "%s/%u", a, p->prefix_len);
}

static bool on_link(const struct dp_port_cfg *p, uint32_t ip)
{
	uint32_t m = prefix_mask(p->prefix_len);

	return (ip & m) == (p->ipv4 & m);
}

/* A next hop (gateway, route via, static neighbour): an address on the port's subnet that is
 * not one of the port's own (own[0..nown)). */
static int check_next_hop(struct ld *l, const char *key, const char *s,
			  const struct dp_port_cfg *p, const uint32_t *own, int nown, uint32_t *ip)
{
	char net[40];
	int rc = parse_ip(l, key, s, ip);

	if (rc)
		return rc;
	if (!on_link(p, *ip)) {
		subnet_str(p, net, sizeof(net));
		return dp_cfg_bad(l, key, "%s is not on the port's subnet %s", s, net);
	}
	for (int i = 0; i < nown; i++)
		if (*ip == own[i])
			return dp_cfg_bad(l, key, "%s is the port's own address", s);
	return check_host(l, key, s, *ip, p->prefix_len);
}

/* "routes" of port p (its address already parsed): prefixes and their next hops. */
static int parse_routes(struct ld *l, json_t *port, struct dp_port_cfg *p, const uint32_t *own,
			int nown)
{
	static const char *const keys[] = { "to", "via", NULL };
	json_t *arr, *v;
	size_t i, old;
	int rc = dp_cfg_get_arr(l, port, "routes", DP_MAX_ROUTES, &arr);

	if (rc || !arr)
		return rc;
	old = dp_cfg_path_key(l, "routes");
	json_array_foreach(arr, i, v) {
		struct dp_route *r = &p->routes[p->nroutes];
		const char *to = NULL, *via = NULL;
		size_t o2 = dp_cfg_path_idx(l, i);

		if (!json_is_object(v))
			rc = dp_cfg_bad(l, NULL, "expected an object, got %s", dp_cfg_type_name(v));
		else if (!json_object_get(v, "to"))
			rc = dp_cfg_bad(l, NULL, "missing key \"to\"");
		else if (!(rc = dp_cfg_only_keys(l, v, keys)) &&
			 !(rc = dp_cfg_get_str(l, v, "to", 64, &to)) &&
			 !(rc = parse_prefix(l, "to", to, 0, &r->prefix, &r->len)) &&
			 !(rc = dp_cfg_get_str(l, v, "via", 64, &via))) {
			if (r->prefix & ~prefix_mask(r->len))
				rc = dp_cfg_bad(l, "to", "\"%s\" has bits set beyond its prefix "
							 "length", to);
			for (uint32_t k = 0; !rc && k < p->nroutes; k++)
				if (p->routes[k].prefix == r->prefix && p->routes[k].len == r->len)
					rc = dp_cfg_bad(l, "to", "\"%s\" is the same as routes[%u]",
							to, k);
			r->next_hop = 0;
			if (!rc && via)
				rc = check_next_hop(l, "via", via, p, own, nown, &r->next_hop);
		}
		dp_cfg_path_pop(l, o2);
		if (rc)
			break;
		p->nroutes++;
	}
	dp_cfg_path_pop(l, old);
	return rc;
}

/* "neighbors" of port p: static ARP entries on its subnet. */
static int parse_neighbors(struct ld *l, json_t *port, struct dp_port_cfg *p,
			   const uint32_t *own, int nown)
{
	static const char *const keys[] = { "ip", "mac", NULL };
	json_t *arr, *v;
	size_t i, old;
	int rc = dp_cfg_get_arr(l, port, "neighbors", DP_MAX_NEIGH, &arr);

	if (rc || !arr)
		return rc;
	old = dp_cfg_path_key(l, "neighbors");
	json_array_foreach(arr, i, v) {
		struct dp_neigh *n = &p->neigh[p->nneigh];
		const char *ip = NULL, *mac = NULL;
		size_t o2 = dp_cfg_path_idx(l, i);

		if (!json_is_object(v))
			rc = dp_cfg_bad(l, NULL, "expected an object, got %s", dp_cfg_type_name(v));
		else if (!json_object_get(v, "ip"))
			rc = dp_cfg_bad(l, NULL, "missing key \"ip\"");
		else if (!json_object_get(v, "mac"))
			rc = dp_cfg_bad(l, NULL, "missing key \"mac\"");
		else if (!(rc = dp_cfg_only_keys(l, v, keys)) &&
			 !(rc = dp_cfg_get_str(l, v, "ip", 64, &ip)) &&
			 !(rc = check_next_hop(l, "ip", ip, p, own, nown, &n->ipv4)) &&
			 !(rc = dp_cfg_get_str(l, v, "mac", 64, &mac)) &&
			 !(rc = parse_mac(l, "mac", mac, n->mac))) {
			for (uint32_t k = 0; !rc && k < p->nneigh; k++)
				if (p->neigh[k].ipv4 == n->ipv4)
					rc = dp_cfg_bad(l, "ip", "%s is already neighbors[%u]", ip,
							k);
		}
		dp_cfg_path_pop(l, o2);
		if (rc)
			break;
		p->nneigh++;
	}
	dp_cfg_path_pop(l, old);
	return rc;
}

/* The local address(es) and MAC(s) of the port at the current path: "address" and "mac"
 * for pci/vdev, "addresses" (two) and "macs" (two, optional) for a loopback pair. */
static int parse_local(struct ld *l, json_t *port, bool pair, uint32_t ip[2], uint8_t len[2],
		       uint8_t mac[2][6], bool *has_mac)
{
	const char *akey = pair ? "addresses" : "address", *mkey = pair ? "macs" : "mac";
	const char *wrong_a = pair ? "address" : "addresses", *wrong_m = pair ? "mac" : "macs";
	int n = pair ? 2 : 1;
	json_t *av, *mv;
	int rc = 0;

	if (json_object_get(port, wrong_a))
		return dp_cfg_bad(l, wrong_a, "not allowed for this type (it takes \"%s\"%s)", akey,
				  pair ? ", two of them" : "");
	if (json_object_get(port, wrong_m))
		return dp_cfg_bad(l, wrong_m, "not allowed for this type (it takes \"%s\"%s)", mkey,
				  pair ? ", two of them" : "");
	av = json_object_get(port, akey);
	if (!av)
		return dp_cfg_bad(l, NULL, "missing key \"%s\"", akey);
	mv = json_object_get(port, mkey);
	*has_mac = mv != NULL;
	for (int k = 0; k < 2; k++) {
		json_t *arr = k ? mv : av, *v;
		const char *key = k ? mkey : akey;
		size_t old = dp_cfg_path_key(l, key);

		if (!arr) {
			dp_cfg_path_pop(l, old);
			continue;
		}
		if (pair && !json_is_array(arr))
			rc = dp_cfg_bad(l, NULL, "expected an array of two strings, got %s",
					dp_cfg_type_name(arr));
		else if (pair && json_array_size(arr) != 2)
			rc = dp_cfg_bad(l, NULL, "%zu elements, a loopback_pair takes exactly 2",
					json_array_size(arr));
		for (int i = 0; !rc && i < n; i++) {
			const char *s = NULL;
			size_t o2 = pair ? dp_cfg_path_idx(l, (size_t)i) : l->plen;

			v = pair ? json_array_get(arr, (size_t)i) : arr;
			rc = dp_cfg_check_str(l, NULL, v, 64, &s);
			if (!rc && k == 0)
				rc = parse_prefix(l, NULL, s, 1, &ip[i], &len[i]);
			if (!rc && k == 0)
				rc = check_host(l, NULL, s, ip[i], len[i]);
			if (!rc && k == 1)
				rc = parse_mac(l, NULL, s, mac[i]);
			dp_cfg_path_pop(l, o2);
		}
		if (!rc && pair && k == 0 && ip[0] == ip[1])
			rc = dp_cfg_bad(l, NULL, "both ends have the address %s",
					json_string_value(json_array_get(arr, 0)));
		if (!rc && pair && k == 0 &&
		    (len[0] != len[1] ||
		     (ip[0] & prefix_mask(len[0])) != (ip[1] & prefix_mask(len[1]))))
			rc = dp_cfg_bad(l, NULL, "the two ends must be on one subnet (they are "
						 "wired back to back)");
		if (!rc && pair && k == 1 && !memcmp(mac[0], mac[1], 6))
			rc = dp_cfg_bad(l, NULL, "both ends have the same MAC address");
		dp_cfg_path_pop(l, old);
		if (rc)
			return rc;
	}
	return 0;
}

/* Parse ports[idx] (the current path) into cfg->ports[cfg->nports ...]. */
static int parse_port(struct ld *l, json_t *port, size_t idx, struct dp_config *cfg)
{
	static const char *const keys[] = { "name", "type", "device", "address", "addresses",
					    "mac", "macs", "gateway", "routes", "neighbors", "mtu",
					    "rx_desc", "tx_desc", "udp_checksum", "impair",
					    NULL };
	static const char *const types[] = { "pci", "vdev", "loopback_pair" };
	const char *name = NULL, *dev = NULL, *gw = NULL;
	char base[DP_NAME_MAX + 1];
	uint32_t ip[2] = { 0, 0 }, mtu = 1500;
	uint8_t len[2] = { 0, 0 }, mac[2][6];
	struct dp_port_cfg *p;
	bool pair, has_mac = false;
	uint8_t csum = 0;
	int type = -1, rc;

	if (!json_is_object(port))
		return dp_cfg_bad(l, NULL, "expected an object, got %s", dp_cfg_type_name(port));
	if ((rc = dp_cfg_only_keys(l, port, keys)))
		return rc;
	if (!json_object_get(port, "type"))
		return dp_cfg_bad(l, NULL, "missing key \"type\"");
	if ((rc = dp_cfg_get_enum(l, port, "type", types, 3, &type)))
		return rc;
	pair = type == 2;
	if (cfg->nports + (pair ? 2u : 1u) > DP_MAX_PORTS)
		return dp_cfg_bad(l, NULL, "one port too many: at most %u (a loopback_pair counts "
					   "as two)", DP_MAX_PORTS);
	p = &cfg->ports[cfg->nports];
	memset(p, 0, sizeof(*p));
	p->kind = pair ? DP_PORT_LOOPBACK : type == 0 ? DP_PORT_PCI : DP_PORT_VDEV;
	p->rx_desc = 1024;
	p->tx_desc = 1024;
	p->udp_checksum = -1;

	if ((rc = dp_cfg_get_str(l, port, "name", pair ? DP_NAME_MAX - 1 : DP_NAME_MAX, &name)))
		return rc;
	for (const char *c = name; c && *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.'))
			return dp_cfg_bad(l, "name", "\"%s\" is not a name (letters, digits, '_', "
						     "'-', '.')", name);
	if (name)
		snprintf(base, sizeof(base), "%s", name);
	else
		snprintf(base, sizeof(base), "port%zu", idx);
	if (pair)
		snprintf(p->name, sizeof(p->name), "%.30s0", base);
	else
		snprintf(p->name, sizeof(p->name), "%s", base);

	if (pair && json_object_get(port, "device"))
		return dp_cfg_bad(l, "device",
				  "not allowed for a loopback_pair (srdd makes its rings)");
	if (!pair && !json_object_get(port, "device"))
		return dp_cfg_bad(l, NULL, "missing key \"device\"");
	if ((rc = dp_cfg_get_str(l, port, "device", DP_PATH_MAX - 1, &dev)))
		return rc;
	if (dev && (rc = type == 0 ? check_pci(l, "device", dev) : check_vdev(l, "device", dev)))
		return rc;
	if (dev)
		snprintf(p->dev, sizeof(p->dev), "%s", dev);

	if ((rc = parse_local(l, port, pair, ip, len, mac, &has_mac)))
		return rc;
	p->ipv4 = ip[0];
	p->prefix_len = len[0];
	if ((rc = dp_cfg_get_u32(l, port, "mtu", DP_MIN_MTU, DP_MAX_MTU, &mtu)) ||
	    (rc = dp_cfg_get_pow2(l, port, "rx_desc", 64, 32768, &p->rx_desc)) ||
	    (rc = dp_cfg_get_pow2(l, port, "tx_desc", 64, 32768, &p->tx_desc)) ||
	    (rc = dp_cfg_get_str(l, port, "gateway", 64, &gw)))
		return rc;
	p->mtu = (uint16_t)mtu;
	if (json_object_get(port, "udp_checksum")) {
		if ((rc = dp_cfg_get_bool(l, port, "udp_checksum", &csum)))
			return rc;
		p->udp_checksum = (int8_t)csum;
	}
	if (gw && (rc = check_next_hop(l, "gateway", gw, p, ip, pair ? 2 : 1, &p->gateway)))
		return rc;
	if ((rc = parse_routes(l, port, p, ip, pair ? 2 : 1)) ||
	    (rc = parse_neighbors(l, port, p, ip, pair ? 2 : 1)) ||
	    (rc = parse_impair(l, port, &p->impair)))
		return rc;
	if (has_mac) {
		memcpy(p->mac, mac[0], 6);
		p->has_mac = 1;
	}
	if (pair) {
		struct dp_port_cfg *q = p + 1;

		*q = *p;
		snprintf(q->name, sizeof(q->name), "%.30s1", base);
		q->ipv4 = ip[1];
		q->prefix_len = len[1];
		if (has_mac)
			memcpy(q->mac, mac[1], 6);
	}
	return 0;
}

/* Is port n's name, address, MAC or device already used by an earlier port? */
static int check_unique(struct ld *l, const struct dp_config *cfg, uint32_t n)
{
	const struct dp_port_cfg *p = &cfg->ports[n];
	size_t dlen = strcspn(p->dev, ",");

	for (uint32_t k = 0; k < n; k++) {
		const struct dp_port_cfg *q = &cfg->ports[k];
		char a[INET_ADDRSTRLEN];

		if (strcmp(p->name, q->name) == 0)
			return dp_cfg_bad(l, "name", "\"%s\" is already the name of another port",
					  p->name);
		if (p->ipv4 == q->ipv4) {
			ip_str(p->ipv4, a);
			return dp_cfg_bad(l, p->kind == DP_PORT_LOOPBACK ? "addresses" : "address",
					  "%s is already the address of port \"%s\"", a, q->name);
		}
		if (p->has_mac && q->has_mac && memcmp(p->mac, q->mac, 6) == 0)
			return dp_cfg_bad(l, p->kind == DP_PORT_LOOPBACK ? "macs" : "mac",
					  "already the MAC address of port \"%s\"", q->name);
		if (dlen && dlen == strcspn(q->dev, ",") && strncmp(p->dev, q->dev, dlen) == 0)
			return dp_cfg_bad(l, "device", "\"%.*s\" is already the device of port "
						       "\"%s\"",
					  (int)dlen, p->dev, q->name);
	}
	return 0;
}

/* "ports": each entry (a loopback pair makes two), then their uniqueness. */
int dp_cfg_parse_ports(struct ld *l, json_t *root, struct dp_config *cfg)
{
	json_t *arr = json_object_get(root, "ports"), *v;
	size_t i, old;
	int rc = 0;

	if (!arr)
		return dp_cfg_bad(l, NULL, "missing key \"ports\" (at least one port is needed)");
	if (!json_is_array(arr))
		return dp_cfg_bad(l, "ports", "expected an array, got %s", dp_cfg_type_name(arr));
	if (json_array_size(arr) == 0)
		return dp_cfg_bad(l, "ports", "empty (at least one port is needed)");
	old = dp_cfg_path_key(l, "ports");
	json_array_foreach(arr, i, v) {
		size_t o2 = dp_cfg_path_idx(l, i);
		uint32_t first = cfg->nports, n;

		rc = parse_port(l, v, i, cfg);
		n = rc ? first : first + (cfg->ports[first].kind == DP_PORT_LOOPBACK ? 2u : 1u);
		for (uint32_t k = first; !rc && k < n; k++)
			rc = check_unique(l, cfg, k);
		dp_cfg_path_pop(l, o2);
		if (rc)
			break;
		cfg->nports = n;
	}
	dp_cfg_path_pop(l, old);
	return rc;
}
