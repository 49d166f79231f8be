// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_firewall: drop IPv4 packets whose SOURCE address matches a prefix
 * in the LPM trie `blocklist`; count the hit in rule_hits[rule id].
 *
 * Ethernet, optionally one 802.1Q tag, then IPv4.
 *   - not IPv4 (incl. truncated Ethernet/VLAN header)  -> XDP_PASS
 *   - IPv4 header truncated or malformed
 *     (version != 4, ihl < 5, ihl*4 beyond the frame)  -> XDP_DROP
 *   - saddr matches a blocklist prefix                 -> XDP_DROP,
 *       rule_hits[rule id]++ (only if rule id < 64)
 *   - otherwise                                        -> XDP_PASS
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif

#define MAX_RULES 64

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* LPM trie key: prefixlen in bits (0..32), then the address as on the wire. */
struct lpm_v4_key {
	__u32 prefixlen;
	__be32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__type(key, struct lpm_v4_key);
	__type(value, __u32); /* rule id */
} blocklist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);   /* rule id */
	__type(value, __u64); /* packets dropped by that rule */
} rule_hits SEC(".maps");

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct lpm_v4_key key;
	struct iphdr *iph;
	__u32 *rule, id;
	__u64 *hits;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	iph = (void *)(eth + 1);

	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return XDP_PASS;
		proto = vh->encap_proto;
		iph = (void *)(vh + 1);
	}
	if (proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	/* Claims to be IPv4 but the header is cut short or bogus: drop. */
	if ((void *)(iph + 1) > data_end)
		return XDP_DROP;
	if (iph->version != 4 || iph->ihl < 5)
		return XDP_DROP;
	if ((void *)iph + iph->ihl * 4 > data_end)
		return XDP_DROP;

	key.prefixlen = 32; /* longest-prefix match on the full address */
	key.addr = iph->saddr;
	rule = bpf_map_lookup_elem(&blocklist, &key);
	if (!rule)
		return XDP_PASS;

	id = *rule;
	hits = bpf_map_lookup_elem(&rule_hits, &id);
	if (hits) /* NULL when rule id >= MAX_RULES: drop uncounted */
		*hits += 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
