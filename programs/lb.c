// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_lb: a layer-4 load balancer in the style of Katran, in two stages. A
 * packet to a virtual service (VIP address, destination port, protocol) is
 * encapsulated, IP in IP, toward one of the service's real servers and sent
 * back out of the interface it came in on (XDP_TX); the real answers the
 * client directly.
 *
 * Stage 1, xdp_lb (the program attached to the interface):
 * Ethernet -> IPv4 (no options) or IPv6 (no extension headers) -> TCP or UDP.
 *   - anything else, a fragment, or a truncated header -> XDP_PASS, uncounted
 *   - (destination, port, protocol) not in `vips`       -> XDP_PASS, uncounted
 *   - the real: first the connection table `conns` (an LRU hash of 4 flows,
 *     so the oldest flow is forgotten first), keyed by VIP, source address,
 *     ports and protocol; else the VIP's consistent-hash ring, an inner map of
 *     `ch_rings` (ARRAY_OF_MAPS, index vip.id) of RING_SIZE reals indexes, at
 *     position hash % RING_SIZE, where hash is the source port xor the low 16
 *     bits of the source address (host order); the flow is then remembered.
 *   - no ring, or an empty slot (0xffffffff)           -> XDP_DROP, no_real++
 *   - otherwise the choice goes into 12 bytes of XDP metadata (magic 'LB01',
 *     real index, VIP id, host order) and stage 2 is tail-called through
 *     `lb_stages[0]`; without a stage 2 in place   -> XDP_ABORTED
 *
 * Stage 2, xdp_lb_encap:
 *   - no metadata, or not ours (magic)                 -> XDP_PASS, metadata
 *     left as it was, uncounted
 *   - an IPv6 client toward an IPv4 real, or no such real
 *                                                      -> XDP_DROP, no_real++
 *   - the wrapped packet longer than config.mtu (0: no limit)
 *                                                      -> XDP_DROP, too_big++
 *   - otherwise the metadata is removed and           -> XDP_TX, packets++,
 *     bytes += the client's IP packet length; conn_hits++ when stage 1 found
 *     the flow in the connection table:
 *       IPv4 real: IPv4 outer header (protocol 4), DF, TTL 64, id 0, the
 *         inner TOS, source config.src_v4
 *       IPv6 real (F_REAL_V6): IPv6 outer header (next header 4 or 41),
 *         hop limit 64, the inner traffic class, flow label 0, source
 *         config.src_v6
 *       Ethernet: destination config.gw_mac, source the frame's destination.
 * Counters are lb_stats[vip id], per CPU.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define F_REAL_V6 1
#define MAX_VIPS 64
#define MAX_REALS 256
#define RING_SIZE 8
#define NO_REAL 0xffffffff
#define LB_MAGIC 0x4c423031 /* 'LB01' */
#define STAGE_ENCAP 0

union addr {
	__be32 v4;
	__be32 v6[4];
};

struct vip_key {
	union addr addr;
	__be16 port;
	__u8 proto;
	__u8 family; /* 4 or 6 */
};

struct vip_meta {
	__u32 id;    /* index into lb_stats and ch_rings */
	__u32 flags; /* reserved */
};

/* A connection, as the table remembers it. */
struct flow_key {
	union addr src;
	__be16 sport;
	__be16 dport;
	__u32 vip_id;
	__u8 proto;
	__u8 pad[3];
};

/* What stage 1 tells stage 2, in front of the packet. */
struct lb_meta {
	__u32 magic;
	__u32 real;
	__u32 vip_id;
	__u32 conn_hit;
};

struct real {
	union addr addr;
	__u8 flags; /* F_REAL_V6 */
	__u8 reserved[3];
};

struct lb_config {
	__be32 src_v4;
	__u8 src_v6[16];
	__u8 gw_mac[6];
	__u16 mtu;
};

struct vip_stats {
	__u64 packets;
	__u64 bytes;
	__u64 no_real;
	__u64 too_big;
	__u64 conn_hits;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VIPS);
	__type(key, struct vip_key);
	__type(value, struct vip_meta);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_REALS);
	__type(key, __u32);
	__type(value, struct real);
} reals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
} config SEC(".maps");

/* A consistent-hash ring: position -> index into `reals`. */
struct ring {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RING_SIZE);
	__type(key, __u32);
	__type(value, __u32);
};

struct ring ring_web SEC(".maps"), ring_dns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MAX_VIPS);
	__type(key, __u32);
	__array(values, struct ring);
} ch_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4);
	__type(key, struct flow_key);
	__type(value, __u32); /* index into `reals` */
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} lb_stages SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_VIPS);
	__type(key, __u32);
	__type(value, struct vip_stats);
} lb_stats SEC(".maps");

/* What encapsulation needs from the client's packet. */
struct flow {
	struct vip_key vip;
	union addr src;
	__be16 sport;
	__u16 hash;
	__u16 ip_len; /* the client's IP packet, header included */
	__u8 tos;
	__u8 inner_v6;
	__u8 our_mac[ETH_ALEN];
};

static __always_inline __u16 ports_and_hash(void *l4, void *data_end, __u8 proto, __be32 src_low, struct flow *f)
{
	struct udphdr *udp = l4; /* TCP and UDP ports are at the same offsets */

	if (proto == IPPROTO_TCP) {
		if ((void *)((struct tcphdr *)l4 + 1) > data_end)
			return 0;
	} else if (proto == IPPROTO_UDP) {
		if ((void *)(udp + 1) > data_end)
			return 0;
	} else {
		return 0;
	}
	f->vip.port = udp->dest;
	f->vip.proto = proto;
	f->sport = udp->source;
	f->hash = bpf_ntohs(udp->source) ^ (bpf_ntohl(src_low) & 0xffff);
	return 1;
}

static __always_inline int parse(void *data, void *data_end, struct flow *f)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return 0;
	__builtin_memcpy(f->our_mac, eth->h_dest, ETH_ALEN);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl != 5)
			return 0;
		if (iph->frag_off & bpf_htons(0x3fff))
			return 0; /* a fragment: MF set or an offset */
		f->vip.addr.v4 = iph->daddr;
		f->src.v4 = iph->saddr;
		f->vip.family = 4;
		f->ip_len = bpf_ntohs(iph->tot_len);
		f->tos = iph->tos;
		return ports_and_hash(iph + 1, data_end, iph->protocol, iph->saddr, f);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end || ip6h->version != 6)
			return 0;
		__builtin_memcpy(f->vip.addr.v6, &ip6h->daddr, 16);
		__builtin_memcpy(f->src.v6, &ip6h->saddr, 16);
		f->vip.family = 6;
		f->ip_len = sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len);
		f->tos = (ip6h->priority << 4) | (ip6h->flow_lbl[0] >> 4);
		f->inner_v6 = 1;
		return ports_and_hash(ip6h + 1, data_end, ip6h->nexthdr, ip6h->saddr.in6_u.u6_addr32[3], f);
	}
	return 0;
}

static __always_inline __u16 ipv4_checksum(struct iphdr *iph)
{
	__u16 *w = (__u16 *)iph;
	__u32 sum = 0;
	int i;

	for (i = 0; i < (int)sizeof(*iph) / 2; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static __always_inline int encapsulate(struct xdp_md *ctx, struct flow *f, struct real *r, struct lb_config *cfg)
{
	int outer_v6 = r->flags & F_REAL_V6;
	int grow = outer_v6 ? (int)sizeof(struct ipv6hdr) : (int)sizeof(struct iphdr);
	struct ethhdr *eth;
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -grow))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(eth->h_dest, cfg->gw_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, f->our_mac, ETH_ALEN);
	if (outer_v6) {
		struct ipv6hdr *o = (void *)(eth + 1);

		if ((void *)(o + 1) > data_end)
			return XDP_ABORTED;
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		o->version = 6;
		o->priority = f->tos >> 4;
		o->flow_lbl[0] = (f->tos & 0xf) << 4;
		o->flow_lbl[1] = 0;
		o->flow_lbl[2] = 0;
		o->payload_len = bpf_htons(f->ip_len);
		o->nexthdr = f->inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
		o->hop_limit = 64;
		__builtin_memcpy(&o->saddr, cfg->src_v6, 16);
		__builtin_memcpy(&o->daddr, r->addr.v6, 16);
	} else {
		struct iphdr *o = (void *)(eth + 1);

		if ((void *)(o + 1) > data_end)
			return XDP_ABORTED;
		eth->h_proto = bpf_htons(ETH_P_IP);
		o->version = 4;
		o->ihl = 5;
		o->tos = f->tos;
		o->tot_len = bpf_htons(sizeof(*o) + f->ip_len);
		o->id = 0;
		o->frag_off = bpf_htons(0x4000); /* DF */
		o->ttl = 64;
		o->protocol = IPPROTO_IPIP;
		o->check = 0;
		o->saddr = cfg->src_v4;
		o->daddr = r->addr.v4;
		o->check = ipv4_checksum(o);
	}
	return XDP_TX;
}

SEC("xdp")
int xdp_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct flow_key key = {};
	struct flow f = {};
	struct vip_meta *vip;
	struct vip_stats *st;
	struct lb_meta *meta;
	__u32 *real, *found, pos, choice, hit = 0;
	void *ring;

	if (!parse(data, data_end, &f))
		return XDP_PASS;
	vip = bpf_map_lookup_elem(&vips, &f.vip);
	if (!vip)
		return XDP_PASS;
	st = bpf_map_lookup_elem(&lb_stats, &vip->id);
	if (!st)
		return XDP_ABORTED;
	key.src = f.src;
	key.sport = f.sport;
	key.dport = f.vip.port;
	key.vip_id = vip->id;
	key.proto = f.vip.proto;
	found = bpf_map_lookup_elem(&conns, &key);
	if (found) {
		choice = *found;
		hit = 1;
	} else {
		ring = bpf_map_lookup_elem(&ch_rings, &vip->id);
		if (!ring)
			goto no_real;
		pos = f.hash % RING_SIZE;
		real = bpf_map_lookup_elem(ring, &pos);
		if (!real || *real == NO_REAL)
			goto no_real;
		choice = *real;
		bpf_map_update_elem(&conns, &key, &choice, BPF_ANY);
	}
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return XDP_ABORTED;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > (void *)(long)ctx->data)
		return XDP_ABORTED;
	meta->magic = LB_MAGIC;
	meta->real = choice;
	meta->vip_id = vip->id;
	meta->conn_hit = hit;
	bpf_tail_call(ctx, &lb_stages, STAGE_ENCAP);
	return XDP_ABORTED; /* no stage 2 */

no_real:
	st->no_real += 1;
	return XDP_DROP;
}

SEC("xdp")
int xdp_lb_encap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct lb_meta *meta = (void *)(long)ctx->data_meta;
	struct flow f = {};
	struct vip_stats *st;
	struct lb_config *cfg;
	struct real *r;
	__u32 zero = 0, real, vip_id, hit;
	int action;

	if ((void *)(meta + 1) > data || meta->magic != LB_MAGIC)
		return XDP_PASS;
	real = meta->real;
	vip_id = meta->vip_id;
	hit = meta->conn_hit;
	if (!parse(data, data_end, &f))
		return XDP_PASS;
	st = bpf_map_lookup_elem(&lb_stats, &vip_id);
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!st || !cfg)
		return XDP_ABORTED;
	r = bpf_map_lookup_elem(&reals, &real);
	if (!r || (f.inner_v6 && !(r->flags & F_REAL_V6))) {
		st->no_real += 1;
		return XDP_DROP;
	}
	if (cfg->mtu && f.ip_len + ((r->flags & F_REAL_V6) ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) > cfg->mtu) {
		st->too_big += 1;
		return XDP_DROP;
	}
	/* The metadata has served: the real server gets none. */
	if (bpf_xdp_adjust_meta(ctx, (int)sizeof(*meta)))
		return XDP_ABORTED;
	action = encapsulate(ctx, &f, r, cfg);
	if (action == XDP_TX) {
		st->packets += 1;
		st->bytes += f.ip_len;
		st->conn_hits += hit;
	}
	return action;
}

char LICENSE[] SEC("license") = "GPL";
