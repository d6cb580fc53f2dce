/**
 * The lab's network, as the shell scripts that build each namespace: addresses, links, routes, NAT and
 * firewall rules. Pure text; lab.ts runs them with `ip netns exec NS sh -ec`.
 */

/** The lab's namespaces; every name starts with `p2pl-` so leftovers can be found and removed. */
export const NS = {
  inet: 'p2pl-inet',
  void: 'p2pl-void',
  routerA: 'p2pl-ra',
  routerB: 'p2pl-rb',
  hostA: 'p2pl-ha',
  hostB: 'p2pl-hb',
  /** The third LAN, built only on request (`NatLabOptions.lanC`). */
  routerC: 'p2pl-rc',
  hostC: 'p2pl-hc',
  pub: 'p2pl-pub',
} as const;
export type Namespace = (typeof NS)[keyof typeof NS];

export const ADDR = {
  /** Signaling server and coturn (relay address too). */
  server: '203.0.113.10',
  /** A second address of the internet namespace: coturn answers STUN here too (mapping tests). */
  server2: '203.0.113.11',
  routerAWan: '203.0.113.2',
  routerBWan: '203.0.113.3',
  routerCWan: '203.0.113.4',
  routerALan: '192.0.2.1',
  routerBLan: '198.51.100.1',
  /**
   * LAN C reuses LAN A's prefix, each in its own namespace, as real homes all use 192.168.1.0/24:
   * NAT makes that legal, and it is the case overlay signaling must survive (a host candidate of A
   * names an address that is on-link in LAN C). Host C's own address differs from host A's, so such
   * a candidate reaches nobody (unanswered ARP) rather than host C itself.
   */
  routerCLan: '192.0.2.1',
  hostA: '192.0.2.10',
  hostB: '198.51.100.10',
  hostC: '192.0.2.30',
  pub: '203.0.113.20',
  void: '203.0.113.254',
} as const;

/** `cone`: endpoint-independent mapping, port-restricted filtering. `symmetric`: a new random port per destination. */
export type NatKind = 'cone' | 'symmetric';

export const PRELUDE = `
ip link set lo up
if [ -d /proc/sys/net/ipv6 ]; then
  echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
  echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
fi`;

// Veths are created here with their far ends placed straight into the other namespaces.
export const INET = `
ip link add br0 type bridge forward_delay 0
ip link add ra type veth peer name wan netns ${NS.routerA}
ip link add rb type veth peer name wan netns ${NS.routerB}
ip link add pub type veth peer name eth0 netns ${NS.pub}
ip link add void type veth peer name eth0 netns ${NS.void}
for port in ra rb pub void; do ip link set "$port" master br0 up; done
ip link set br0 up
ip addr add ${ADDR.server}/24 dev br0
ip addr add ${ADDR.server2}/24 dev br0
ip route add default via ${ADDR.void}`;

/** Router C's port on the internet bridge, added to {@link INET} when the lab has a third LAN. */
export const INET_LAN_C = `
ip link add rc type veth peer name wan netns ${NS.routerC}
ip link set rc master br0 up`;

export const routerLinks = (lanHost: string): string => `ip link add lan type veth peer name eth0 netns ${lanHost}`;

export const host = (address: string, prefix: number, gateway: string): string => `
ip addr add ${address}/${prefix} dev eth0
ip link set eth0 up
ip route add default via ${gateway}`;

// A default route into the void keeps sends to unroutable (private) addresses silent: coturn drops a
// relay after one ENETUNREACH. The void answers ARP for its address and drops every IP packet.
export const VOID = `
ip addr add ${ADDR.void}/24 dev eth0
ip link set eth0 up
iptables-restore <<'EOF'
*raw
:PREROUTING DROP [0:0]
:OUTPUT DROP [0:0]
COMMIT
EOF`;

// Home-router firewall. INPUT must drop unsolicited packets from the wan: accepting them confirms a
// conntrack entry that takes the very port the NAT mapped, and cone↔cone hole punching then fails.
export const router = (wan: string, lan: string, nat: NatKind): string => `
ip addr add ${wan}/24 dev wan
ip link set wan up
ip addr add ${lan}/24 dev lan
ip link set lan up
ip route add default via ${ADDR.void}
echo 1 > /proc/sys/net/ipv4/ip_forward
iptables-restore <<'EOF'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o wan -j MASQUERADE${nat === 'symmetric' ? ' --random-fully' : ''}
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -i wan -p icmp -j ACCEPT
-A INPUT -i wan -j DROP
-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A FORWARD -i lan -o wan -j ACCEPT
COMMIT
EOF`;
