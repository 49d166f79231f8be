// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_syn_filter: a DDoS filter for TCP connection attempts, IPv4 and IPv6.
 *
 * Ethernet, optionally one 802.1Q tag, then IPv4 or IPv6. IPv6 hop-by-hop,
 * routing and destination options headers are skipped (up to 4 extension
 * headers in all); a fragment header with a non-zero offset ends the walk.
 * Only a SYN without ACK (a new connection) is judged:
 *   - not IPv4/IPv6, not TCP, a later fragment, a truncated header,
 *     or TCP without SYN or with SYN|ACK             -> XDP_PASS, uncounted
 *   - source in blocklist_v4 / blocklist_v6 (LPM)    -> XDP_DROP, syn_stats[1]
 *   - destination port not in open_ports             -> XDP_DROP, syn_stats[2]
 *   - no MSS option among the first 12 options, or an MSS below
 *     config.min_mss                                 -> XDP_DROP, syn_stats[3]
 *     (bare SYNs are what flooders and scanners send; min_mss 0 checks
 *     only that the option is there)
 *   - otherwise                                      -> XDP_PASS, syn_stats[0]
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif

#define MAX_EXT_HEADERS 4
#define MAX_OPTIONS 12
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2

enum {
	STAT_PASSED = 0,
	STAT_BLOCKED_SOURCE = 1,
	STAT_CLOSED_PORT = 2,
	STAT_BAD_MSS = 3,
};

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct lpm_v4_key {
	__u32 prefixlen;
	__be32 addr;
};

struct lpm_v6_key {
	__u32 prefixlen;
	struct in6_addr addr;
};

struct filter_config {
	__u16 min_mss; /* host order; 0: only require the option */
	__u16 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u32); /* rule id, for the operator */
} blocklist_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, __u32);
} blocklist_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);  /* destination port, host order */
	__type(value, __u8); /* 1: open */
} open_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct filter_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);   /* STAT_* */
	__type(value, __u64); /* SYNs */
} syn_stats SEC(".maps");

static __always_inline int verdict(__u32 stat, int action)
{
	__u64 *v = bpf_map_lookup_elem(&syn_stats, &stat);

	if (v)
		*v += 1;
	return action;
}

/*
 * The MSS option's value (host order), 0 when there is none among the
 * first MAX_OPTIONS options. Offsets stay bounded scalars (not moving packet
 * pointers) so the verifier can prune the loop's states.
 */
static __always_inline __u16 mss_of(struct tcphdr *tcp, void *data_end)
{
	__u8 *base = (__u8 *)tcp;
	__u32 hlen = tcp->doff * 4;
	__u32 off = sizeof(*tcp);
	int i;

	for (i = 0; i < MAX_OPTIONS; i++) {
		__u8 *p, kind, len;

		if (off >= hlen)
			return 0;
		off &= 0x3f; /* < 60 already: tells the verifier */
		p = base + off;
		if ((void *)(p + 2) > data_end)
			return 0;
		kind = p[0];
		if (kind == TCPOPT_EOL)
			return 0;
		if (kind == TCPOPT_NOP) {
			off++;
			continue;
		}
		len = p[1];
		if (len < 2)
			return 0; /* malformed: stop, as the stack does */
		if (kind == TCPOPT_MSS) {
			if (len != 4 || off + 4 > hlen || (void *)(p + 4) > data_end)
				return 0;
			return ((__u16)p[2] << 8) | p[3];
		}
		off += len;
	}
	return 0;
}

static __always_inline int judge_syn(struct tcphdr *tcp, void *data_end, int blocked)
{
	struct filter_config *cfg;
	__u16 port, mss;
	__u32 zero = 0;

	if ((void *)(tcp + 1) > data_end || tcp->doff < 5)
		return XDP_PASS;
	if (!tcp->syn || tcp->ack)
		return XDP_PASS;
	if (blocked)
		return verdict(STAT_BLOCKED_SOURCE, XDP_DROP);
	port = bpf_ntohs(tcp->dest);
	if (!bpf_map_lookup_elem(&open_ports, &port))
		return verdict(STAT_CLOSED_PORT, XDP_DROP);
	cfg = bpf_map_lookup_elem(&config, &zero);
	mss = mss_of(tcp, data_end);
	if (mss == 0 || (cfg && mss < cfg->min_mss))
		return verdict(STAT_BAD_MSS, XDP_DROP);
	return verdict(STAT_PASSED, XDP_PASS);
}

static __always_inline int filter_ipv4(struct iphdr *iph, void *data_end)
{
	struct lpm_v4_key key = { .prefixlen = 32 };

	if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl < 5)
		return XDP_PASS;
	if (iph->protocol != IPPROTO_TCP)
		return XDP_PASS;
	if (iph->frag_off & bpf_htons(0x1fff))
		return XDP_PASS; /* a later fragment: no TCP header here */
	key.addr = iph->saddr;
	return judge_syn((void *)iph + iph->ihl * 4, data_end, bpf_map_lookup_elem(&blocklist_v4, &key) != NULL);
}

static __always_inline int filter_ipv6(struct ipv6hdr *ip6h, void *data_end)
{
	struct lpm_v6_key key = { .prefixlen = 128 };
	__u8 nexthdr;
	__u8 *hdr;
	int i;

	if ((void *)(ip6h + 1) > data_end || ip6h->version != 6)
		return XDP_PASS;
	nexthdr = ip6h->nexthdr;
	hdr = (__u8 *)(ip6h + 1);
	for (i = 0; i < MAX_EXT_HEADERS; i++) {
		if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING || nexthdr == IPPROTO_DSTOPTS) {
			if ((void *)(hdr + 2) > data_end)
				return XDP_PASS;
			nexthdr = hdr[0];
			hdr += (hdr[1] + 1) * 8;
		} else if (nexthdr == IPPROTO_FRAGMENT) {
			if ((void *)(hdr + 8) > data_end)
				return XDP_PASS;
			if (((hdr[2] << 8) | hdr[3]) & 0xfff8)
				return XDP_PASS; /* a later fragment */
			nexthdr = hdr[0];
			hdr += 8;
		} else {
			break;
		}
	}
	if (nexthdr != IPPROTO_TCP)
		return XDP_PASS;
	key.addr = ip6h->saddr;
	return judge_syn((void *)hdr, data_end, bpf_map_lookup_elem(&blocklist_v6, &key) != NULL);
}

SEC("xdp")
int xdp_syn_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__be16 proto;
	void *l3;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vlan = l3;

		if ((void *)(vlan + 1) > data_end)
			return XDP_PASS;
		proto = vlan->encap_proto;
		l3 = vlan + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return filter_ipv4(l3, data_end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return filter_ipv6(l3, data_end);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
