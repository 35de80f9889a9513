// Small JSON-aware probes for scripts/sample.sh (no jq or dig needed on the machine).
//   passing <consul-url> <service> <count>   exit 0 when <count> instances pass
//   instances <consul-url> <service>         print the instances
//   dns <dns-port> <service>                 print the SRV answers, as the tutorial's Python resolves them
//   get <url>                                print the body of a GET
import { promises as dns } from 'node:dns';

const [command, ...args] = process.argv.slice(2);

async function health(consul, service) {
  const res = await fetch(`${consul}/v1/health/service/${service}?passing`);
  return res.ok ? res.json() : [];
}

if (command === 'passing') {
  const [consul, service, count] = args;
  process.exit((await health(consul, service).catch(() => [])).length >= Number(count) ? 0 : 1);
} else if (command === 'instances') {
  const [consul, service] = args;
  for (const e of await health(consul, service)) {
    const checks = e.Checks.filter((c) => c.ServiceID).map((c) => `${c.Name}: ${c.Status}`);
    console.log(
      `  ${service.padEnd(13)} ${e.Service.ID.padEnd(34)} ${e.Service.Address}:${e.Service.Port}  [${checks.join(', ')}]`,
    );
  }
} else if (command === 'dns') {
  const [port, service] = args;
  const resolver = new dns.Resolver();
  resolver.setServers([`127.0.0.1:${port}`]);
  for (const srv of await resolver.resolveSrv(`${service}.service.consul`)) {
    const [address] = await resolver.resolve4(srv.name);
    console.log(`  ${address}:${srv.port}  (SRV ${srv.name})`);
  }
} else if (command === 'get') {
  const res = await fetch(args[0]);
  console.log(await res.text());
  process.exit(res.ok ? 0 : 1);
} else {
  console.error('usage: sample-probe.mjs passing|instances|dns|get ...');
  process.exit(2);
}
