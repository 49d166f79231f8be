// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_icmp_echo: answer IPv4 ICMP echo requests in place.
 *
 * Ethernet, optionally one 802.1Q tag (kept as is), IPv4, ICMP type 8.
 * The reply swaps the Ethernet and IPv4 addresses, sets type 0 and fixes
 * the ICMP checksum incrementally (RFC 1624). The TTL is left unchanged, so
 * the IPv4 header checksum stays valid (swapping two words does not change
 * a one's-complement sum). Returns XDP_TX.
 * Everything else, including IPv4 fragments and truncated or malformed
 * headers, gets XDP_PASS.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/icmp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/*
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word m -> m'.
 * Works on the words exactly as stored in the packet (one's-complement
 * sums are byte-order independent).
 */
static __always_inline void csum_replace2(__u16 *sum, __u16 old, __u16 new)
{
	__u32 c = (__u16)~*sum + (__u32)(__u16)~old + new;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	*sum = (__u16)~c;
}

SEC("xdp")
int xdp_icmp_echo(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char mac[ETH_ALEN];
	struct icmphdr *icmp;
	struct iphdr *iph;
	__u16 old_word;
	__be32 addr;
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

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (iph->version != 4 || iph->ihl < 5 || iph->protocol != IPPROTO_ICMP)
		return XDP_PASS;
	/* A fragment would only get a partial reply: leave it to the stack. */
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return XDP_PASS;

	icmp = (void *)iph + iph->ihl * 4; /* skips IP options, if any */
	if ((void *)(icmp + 1) > data_end)
		return XDP_PASS;
	if (icmp->type != ICMP_ECHO)
		return XDP_PASS;

	/* Ethernet: reply goes back where the request came from. */
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);

	/* IPv4: swap addresses; header checksum unchanged, TTL untouched. */
	addr = iph->saddr;
	iph->saddr = iph->daddr;
	iph->daddr = addr;

	/* ICMP: type/code share one 16-bit word; change type 8 -> 0. */
	old_word = *(__u16 *)icmp;
	icmp->type = ICMP_ECHOREPLY;
	csum_replace2(&icmp->checksum, old_word, *(__u16 *)icmp);

	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
