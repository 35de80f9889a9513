/** `host:port`, with an IPv6 address in brackets (`[::1]:8500`), as URLs and socket targets want it. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
