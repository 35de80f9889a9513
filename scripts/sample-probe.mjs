// Small JSON-aware probes for scripts/sample.sh (no jq or dig needed on the machine).
//   passing <consul-url> <service> <count>   exit 0 when <count> instances pass
//   instances <consul-url> <service>         print the instances
//   dns <dns-port> <service>                 print the SRV answers, as the tutorial's Python resolves them
//   get <url>                                print the body of a GET; an https:// URL is a Connect-native app,
//                                            called over mTLS as "sample_probe" (a leaf from $CONSUL_HTTP_ADDR)
//   deny <consul-url> <source> <destination> <url>
//                                            create a deny intention, GET <url> until it answers 403: print
//                                            "<intention id> <ms from the request to the first 403>", then the 403
//   undeny <consul-url> <intention id> <url> delete the intention, GET <url> until it answers 200: print
//                                            "<ms from the request to the first 200>", then the answer
import { promises as dns } from 'node:dns';
import { Agent, request } from 'node:https';

const [command, ...args] = process.argv.slice(2);

async function health(consul, service) {
  const res = await fetch(`${consul}/v1/health/service/${service}?passing`);
  return res.ok ? res.json() : [];
}

async function consulJson(consul, path, init) {
  const res = await fetch(`${consul}${path}`, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

let meshAgent;
/** A keep-alive HTTPS agent holding a leaf of the mesh ("sample_probe") and trusting the mesh's roots only. */
async function mesh() {
  if (!meshAgent) {
    const consul = (process.env.CONSUL_HTTP_ADDR ?? '127.0.0.1:8500').replace(/^(?!https?:\/\/)/, 'http://');
    const leaf = await consulJson(consul, '/v1/agent/connect/ca/leaf/sample_probe');
    const roots = await consulJson(consul, '/v1/agent/connect/ca/roots');
    meshAgent = new Agent({
      keepAlive: true,
      key: leaf.PrivateKeyPEM,
      cert: leaf.CertPEM,
      ca: roots.Roots.map((root) => root.RootCert),
      // A Connect certificate names a SPIFFE id, not a host name.
      checkServerIdentity: () => undefined,
    });
  }
  return meshAgent;
}

/** GET `url`: { status, body }. */
async function get(url) {
  if (!url.startsWith('https:')) {
    const res = await fetch(url);
    return { status: res.status, body: await res.text() };
  }
  const agent = await mesh();
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** GETs `url` every 10 ms until it answers `status`, for at most `timeoutMs`; resolves that answer or fails. */
async function until(url, status, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await get(url).catch((error) => ({ status: 0, body: error.message }));
    if (answer.status === status) return answer;
    if (Date.now() > deadline) {
      console.error(`no ${status} from ${url} within ${timeoutMs} ms; last answer: ${answer.status} ${answer.body}`);
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

if (command === 'passing') {
  const [consul, service, count] = args;
  process.exit((await health(consul, service).catch(() => [])).length >= Number(count) ? 0 : 1);
} else if (command === 'instances') {
  const [consul, service] = args;
  for (const e of await health(consul, service)) {
    const checks = e.Checks.filter((c) => c.ServiceID).map((c) => `${c.Name}: ${c.Status}`);
    const connect = e.Service.Connect?.Native ? '  Connect native' : '';
    console.log(
      `  ${service.padEnd(13)} ${e.Service.ID.padEnd(34)} ${e.Service.Address}:${e.Service.Port}  [${checks.join(', ')}]${connect}`,
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
  const { status, body } = await get(args[0]);
  console.log(body);
  process.exit(status >= 200 && status < 300 ? 0 : 1);
} else if (command === 'deny') {
  const [consul, source, destination, url] = args;
  await get(url); // the TLS connection is open before the clock starts
  const started = Date.now();
  const { ID } = await consulJson(consul, '/v1/connect/intentions', {
    method: 'POST',
    body: JSON.stringify({ SourceName: source, DestinationName: destination, Action: 'deny' }),
  });
  const refused = await until(url, 403, 5_000);
  console.log(`${ID} ${Date.now() - started}`);
  console.log(refused.body);
  process.exit(0);
} else if (command === 'undeny') {
  const [consul, id, url] = args;
  await get(url);
  const started = Date.now();
  await fetch(`${consul}/v1/connect/intentions/${id}`, { method: 'DELETE' }).then((res) => {
    if (!res.ok) throw new Error(`DELETE intention ${id}: ${res.status}`);
  });
  const admitted = await until(url, 200, 10_000);
  console.log(Date.now() - started);
  console.log(admitted.body);
  process.exit(0);
} else {
  console.error('usage: sample-probe.mjs passing|instances|dns|get|deny|undeny ...');
  process.exit(2);
}
