// The addresses a Node peer listens on when told none: its own module, so that what only names
// them (the CLI's help) does not load libp2p to do so.

/** TCP and WebSockets on loopback, ports chosen by the system. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
