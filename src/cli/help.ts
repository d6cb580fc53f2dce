import { readFileSync } from 'node:fs';

const START_HELP = `Usage: p2p-node [start] [options]

Runs a node. Without --signal (or SIGNALING_SERVER_URL) it also runs an embedded
signaling server, prints its URL, and other nodes can join with --signal <url>;
the same URL opened in a browser is the web app, whose tab is a node too.

Options:
  --signal URL[,URL…]  signaling server to register with (http(s)://, ws(s)://), or
                       an MQTT broker to meet through (mqtt(s)://host/PREFIX,
                       ws(s)://host/mqtt?prefix=PREFIX); several fail over in
                       order (env SIGNALING_SERVER_URL)
  --host HOST          embedded signaling server interface (default 127.0.0.1;
                       0.0.0.0 to accept other machines)
  --port PORT          embedded signaling server port (default 0: any free port)
  --connect ID         connect to this node id once registered (repeatable)
  --dht                run the DHT: find nodes by topic, keep connecting when the
                       signaling server is gone
  --join TOPIC         announce under TOPIC in the DHT and connect to every node
                       found there (repeatable; implies --dht)
  --accept-files DIR   take every file peers offer into DIR (checked by SHA-256,
                       resumed if interrupted); without it, offers are declined
  --identity PATH      key file; created on first use, mode 0600 (env P2P_IDENTITY,
                       default $XDG_CONFIG_HOME/p2p-dht-node/identity.pem)
  --stun URL           STUN server (repeatable; env P2P_STUN, comma-separated)
  --stun-preset NAME   add a named list of public STUN servers: cn (operated in
                       mainland China, where Google's are blocked); env
                       P2P_STUN_PRESET
  --turn URL           TURN server (repeatable; env P2P_TURN, comma-separated)
  --turn-user USER     TURN username, required with --turn (env P2P_TURN_USER)
  --turn-pass PASS     TURN password, required with --turn (env P2P_TURN_PASS)
  --turn-secret S      instead of --turn-user/--turn-pass: the TURN server's
                       shared secret (coturn use-auth-secret); the embedded
                       signaling server then gives every node that registers
                       credentials for --turn, valid 24 h (env P2P_TURN_SECRET;
                       not with --signal)
  --loopback-only      use 127.0.0.1/::1 candidates only (one-machine demos, tests)
  --inspect [PORT]     serve the live state inspector on 127.0.0.1 (default 8088;
                       0: any free port); works offline
  --stately            also stream states to the online Stately Inspector
                       (stately.ai; keys, SDPs and addresses are left out)
  --log-level LEVEL    fatal|error|warn|info|debug|trace|silent (default warn);
                       logs are JSON on stderr
  -h, --help           show this help
  -v, --version        show the version

No ICE servers are used by default, which is enough on one machine or LAN: nothing
on the internet is contacted unless --stun, --stun-preset or --turn says so.
Across NATs pass --stun (e.g. --stun stun:stun.l.google.com:19302); peers behind
symmetric NATs also need a relay: --turn turn:HOST:3478 --turn-user U --turn-pass P.
A signaling server started with --turn-secret hands out the relay's credentials
itself, so nodes that join it need no --turn at all.

Once running, type a line to send it to every connected peer, or:
${interactiveHelp().map((line) => `  ${line}`).join('\n')}

Exit codes: 0 clean stop (SIGINT, SIGTERM, /quit), 1 startup failure
(e.g. signaling server unreachable), 2 bad usage.`;

const SIGNAL_HELP = `Usage: p2p-node signal [options]

Runs a standalone signaling server until SIGINT or SIGTERM.

Options:
  --host HOST          interface to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --port PORT          port to listen on (default 8080; 0 for any free port)
  --turn URL           TURN server to hand out credentials for (repeatable;
                       env P2P_TURN, comma-separated); needs --turn-secret
  --turn-secret S      the TURN server's shared secret (coturn --use-auth-secret
                       --static-auth-secret S); every node that registers gets
                       credentials valid 24 h (env P2P_TURN_SECRET, which keeps
                       the secret out of the process list)
  --redis URL          join the cluster of every server using this Redis
                       (redis://host:port; env P2P_REDIS): nodes on any of them
                       reach each other
  --web                serve the web app at / : a browser tab that opens it is a
                       node of its own (chat, files, peers' state)
  --log-level LEVEL    fatal|error|warn|info|debug|trace|silent (default warn)
  -h, --help           show this help
  -v, --version        show the version`;

/** The `--help` text of a command. */
export function usage(topic: 'start' | 'signal'): string {
  return topic === 'signal' ? SIGNAL_HELP : START_HELP;
}

/** The commands of a running node, one per line (shared by `--help` and `/help`). */
export function interactiveHelp(): string[] {
  return [
    '/connect <id>       connect to a node',
    '/disconnect <id>    close a connection (an id prefix is enough)',
    '/peers              list peers with state, route and bytes',
    '/join <topic>       announce under a topic and connect to the nodes there (DHT)',
    '/lookup <topic>     list the node ids announced under a topic (DHT)',
    '/put <key> <value>  store a signed value under this node and key (DHT)',
    '/get <id> <key>     read what a node stored under a key (DHT)',
    '/send <id> <path>   send a file (progress, rate and ETA follow; resumes if sent again)',
    '/files              file transfers of this run',
    '/dht                the DHT: state, buckets, contacts, connections, lookups/s',
    '/quit               stop the node and exit',
    '/help               this list',
    '//text              send a line that starts with /',
  ];
}

/** The package version, read at run time so the build does not need to copy package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
