// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_router: IPv4 and IPv6 forwarding through the kernel FIB.
 *
 * Untagged Ethernet + IPv4 or IPv6 only (anything else -> XDP_PASS, uncounted).
 *   - IP header truncated/malformed            -> XDP_PASS (uncounted)
 *   - TTL (IPv4) or hop limit (IPv6) <= 1      -> XDP_PASS, route_stats[3]
 *   - bpf_fib_lookup(ifindex = ingress_ifindex, flags 0, family AF_INET or
 *     AF_INET6) returns:
 *       SUCCESS      -> TTL-1 (IPv4: incremental checksum) or hop limit-1
 *                       (IPv6: no header checksum), MACs from the FIB,
 *                       route_stats[0], bpf_redirect_map(&tx_ports,
 *                       fib.ifindex, 0): XDP_REDIRECT, or XDP_ABORTED
 *                       when fib.ifindex is not in tx_ports
 *       NO_NEIGH     -> XDP_PASS, route_stats[1] (the stack resolves ARP)
 *       BLACKHOLE, UNREACHABLE, PROHIBIT
 *                    -> XDP_DROP, route_stats[2]
 *       anything else (NOT_FWDED: no route or local destination,
 *       FWD_DISABLED, FRAG_NEEDED, UNSUPP_LWT, NO_SRC_ADDR, errors)
 *                    -> XDP_PASS, uncounted
 *
 * xdp_router_hash: the same, with its egress ports in the DEVMAP_HASH
 * tx_ports_hash (keyed by any ifindex, not bounded by max_entries), as
 * forwarding programs that serve many devices keep them.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define IPV6_FLOWINFO_MASK bpf_htonl(0x0fffffff)

enum {
	STAT_FORWARDED = 0,
	STAT_NO_NEIGH = 1,
	STAT_DROPPED = 2, /* blackhole / unreachable / prohibit */
	STAT_TTL_EXPIRED = 3,
};

/* Egress ports: key = ifindex, value = ifindex (the device to send on). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

/* The same ports for xdp_router_hash. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);   /* STAT_* */
	__type(value, __u64); /* packets */
} route_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&route_stats, &idx);

	if (v)
		*v += 1;
}

/* RFC 1624 incremental checksum update for one 16-bit word. */
static __always_inline void csum_replace2(__u16 *sum, __u16 old, __u16 new)
{
	__u32 c = (__u16)~*sum + (__u32)(__u16)~old + new;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	*sum = (__u16)~c;
}

/* The FIB's verdict, counted; returns -1 to forward, else the XDP action. */
static __always_inline int fib_verdict(long rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		return -1;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		count(STAT_NO_NEIGH);
		return XDP_PASS;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		count(STAT_DROPPED);
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

static __always_inline int forward(struct ethhdr *eth, struct bpf_fib_lookup *fib, void *ports)
{
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	count(STAT_FORWARDED);
	return bpf_redirect_map(ports, fib->ifindex, 0);
}

static __always_inline int route_ipv4(struct xdp_md *ctx, struct ethhdr *eth, void *data_end, void *ports)
{
	struct bpf_fib_lookup fib = {};
	struct iphdr *iph = (void *)(eth + 1);
	__u16 old_word;
	int verdict;

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (iph->version != 4 || iph->ihl < 5)
		return XDP_PASS;
	if ((void *)iph + iph->ihl * 4 > data_end)
		return XDP_PASS;

	if (iph->ttl <= 1) {
		count(STAT_TTL_EXPIRED);
		return XDP_PASS; /* the stack sends ICMP time exceeded */
	}

	fib.family = AF_INET;
	fib.tos = iph->tos;
	fib.l4_protocol = iph->protocol;
	fib.tot_len = bpf_ntohs(iph->tot_len); /* used for the MTU check */
	fib.ipv4_src = iph->saddr;
	fib.ipv4_dst = iph->daddr;
	fib.ifindex = ctx->ingress_ifindex;

	verdict = fib_verdict(bpf_fib_lookup(ctx, &fib, sizeof(fib), 0));
	if (verdict >= 0)
		return verdict;

	/* TTL and protocol share one 16-bit word of the header. */
	old_word = *(__u16 *)&iph->ttl;
	iph->ttl--;
	csum_replace2(&iph->check, old_word, *(__u16 *)&iph->ttl);
	return forward(eth, &fib, ports);
}

static __always_inline int route_ipv6(struct xdp_md *ctx, struct ethhdr *eth, void *data_end, void *ports)
{
	struct bpf_fib_lookup fib = {};
	struct ipv6hdr *ip6h = (void *)(eth + 1);
	int verdict;

	if ((void *)(ip6h + 1) > data_end)
		return XDP_PASS;
	if (ip6h->version != 6)
		return XDP_PASS;

	if (ip6h->hop_limit <= 1) {
		count(STAT_TTL_EXPIRED);
		return XDP_PASS; /* the stack sends ICMPv6 time exceeded */
	}

	fib.family = AF_INET6;
	fib.flowinfo = *(__be32 *)ip6h & IPV6_FLOWINFO_MASK;
	fib.l4_protocol = ip6h->nexthdr;
	fib.tot_len = bpf_ntohs(ip6h->payload_len);
	__builtin_memcpy(fib.ipv6_src, &ip6h->saddr, sizeof(fib.ipv6_src));
	__builtin_memcpy(fib.ipv6_dst, &ip6h->daddr, sizeof(fib.ipv6_dst));
	fib.ifindex = ctx->ingress_ifindex;

	verdict = fib_verdict(bpf_fib_lookup(ctx, &fib, sizeof(fib), 0));
	if (verdict >= 0)
		return verdict;

	ip6h->hop_limit--; /* IPv6 has no header checksum to update */
	return forward(eth, &fib, ports);
}

static __always_inline int route(struct xdp_md *ctx, void *ports)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return route_ipv4(ctx, eth, data_end, ports);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return route_ipv6(ctx, eth, data_end, ports);
	return XDP_PASS;
}

SEC("xdp")
int xdp_router(struct xdp_md *ctx)
{
	return route(ctx, &tx_ports);
}

SEC("xdp")
int xdp_router_hash(struct xdp_md *ctx)
{
	return route(ctx, &tx_ports_hash);
}

char LICENSE[] SEC("license") = "GPL";
