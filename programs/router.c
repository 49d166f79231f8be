// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_router: IPv4 forwarding through the kernel FIB.
 *
 * Untagged Ethernet + IPv4 only (anything else -> XDP_PASS, uncounted).
 *   - IPv4 header truncated/malformed          -> XDP_PASS (uncounted)
 *   - TTL <= 1                                 -> XDP_PASS, route_stats[3]
 *   - bpf_fib_lookup(ifindex = ingress_ifindex, flags 0) returns:
 *       SUCCESS      -> TTL-1 (incremental checksum), MACs from the FIB,
 *                       route_stats[0], bpf_redirect_map(&tx_ports,
 *                       fib.ifindex, 0): XDP_REDIRECT, or XDP_ABORTED
 *                       when fib.ifindex is not in tx_ports
 *       NO_NEIGH     -> XDP_PASS, route_stats[1] (the stack resolves ARP)
 *       BLACKHOLE, UNREACHABLE, PROHIBIT
 *                    -> XDP_DROP, route_stats[2]
 *       anything else (NOT_FWDED: no route or local destination,
 *       FWD_DISABLED, FRAG_NEEDED, UNSUPP_LWT, NO_SRC_ADDR, errors)
 *                    -> XDP_PASS, uncounted
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2

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

SEC("xdp")
int xdp_router(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	struct iphdr *iph;
	__u16 old_word;
	long rc;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
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

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		break;
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

	/* TTL and protocol share one 16-bit word of the header. */
	old_word = *(__u16 *)&iph->ttl;
	iph->ttl--;
	csum_replace2(&iph->check, old_word, *(__u16 *)&iph->ttl);

	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);

	count(STAT_FORWARDED);
	return bpf_redirect_map(&tx_ports, fib.ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
