// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_cpu_spread: spreads IPv4 UDP and TCP flows over CPUs, the way the
 * kernel's xdp_redirect_cpu sample and RSS do in software: the CPU is
 * cpus[hash % cpu_count], where hash is the source port xor the destination
 * port (host order), and the frame goes there through the CPUMAP `cpu_map`.
 *   - not IPv4 UDP/TCP, or a truncated header  -> XDP_PASS
 *   - cpu_count 0 (config not set)              -> XDP_PASS
 *   - otherwise bpf_redirect_map(&cpu_map, cpu, XDP_PASS): XDP_REDIRECT, or
 *     XDP_PASS when the CPU has no entry in cpu_map
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_CPUS 64

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpu_map SEC(".maps");

/* The CPUs to spread over, cpus[0 .. cpu_count). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, __u32);
	__type(value, __u32);
} cpus SEC(".maps");

const volatile __u32 cpu_count = 0;

SEC("xdp")
int xdp_cpu_spread(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *l4; /* TCP ports sit where UDP's do */
	__u32 slot, *cpu;

	if (cpu_count == 0)
		return XDP_PASS;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->ihl < 5)
		return XDP_PASS;
	if (iph->protocol != IPPROTO_UDP && iph->protocol != IPPROTO_TCP)
		return XDP_PASS;
	l4 = (void *)iph + iph->ihl * 4;
	if ((void *)(l4 + 1) > data_end)
		return XDP_PASS;
	slot = (bpf_ntohs(l4->source) ^ bpf_ntohs(l4->dest)) % cpu_count;
	cpu = bpf_map_lookup_elem(&cpus, &slot);
	if (!cpu)
		return XDP_PASS;
	return bpf_redirect_map(&cpu_map, *cpu, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
