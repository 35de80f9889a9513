import { ConsulAgent, type ConsulAgentOptions } from './consul-agent.js';

/** What a suite shares: its agent, and the apps it started (closed after each test, also on failure). */
export interface AgentSuite {
  agent: ConsulAgent;
  apps: Array<{ app: { close(): Promise<void> } }>;
}

/** Starts a real Consul agent for the enclosing `describe`, and stops it and every tracked app afterwards. */
export function useConsulAgent(options: ConsulAgentOptions = {}): AgentSuite {
  const suite = { apps: [] } as unknown as AgentSuite;
  beforeAll(async () => {
    suite.agent = await ConsulAgent.start(options);
  });
  afterEach(async () => {
    await Promise.all(suite.apps.splice(0).map(({ app }) => app.close()));
  });
  afterAll(async () => {
    await suite.agent?.stop();
  });
  return suite;
}
