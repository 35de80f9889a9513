import { REGISTRATION_TRANSITIONS, RegistrationStateMachine } from './registration-state.js';

function machine() {
  const lines: string[] = [];
  const log = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  const logger = { debug: log('DEBUG'), log: log('LOG'), warn: log('WARN'), error: log('ERROR') };
  return { states: new RegistrationStateMachine(logger), lines };
}

describe('RegistrationStateMachine', () => {
  it('logs one line per change, none when the state stays', () => {
    const { states, lines } = machine();
    states.to('waiting', 'debug', 'waiting');
    states.to('unreachable', 'debug', 'down');
    states.to('unreachable', 'debug', 'down again');
    states.to('registered', 'log', 'registered');
    expect(lines).toEqual(['DEBUG waiting', 'DEBUG down', 'LOG registered']);
  });

  it('counts re-registrations (not the first one, not keep-alive confirmations) and when the state began', () => {
    const { states } = machine();
    const before = states.since;
    states.to('waiting', 'debug', '');
    states.to('registered', 'log', '');
    states.to('out-of-reach', 'debug', '');
    states.to('registered', 'debug', ''); // reachable again: still the same registration
    expect(states.reregistrations).toBe(0);
    states.to('lost', 'warn', '');
    states.to('failing', 'error', '');
    states.to('registered', 'log', '');
    expect(states.reregistrations).toBe(1);
    states.to('leaving', 'log', '');
    states.to('deregistered', 'log', '');
    states.to('registered', 'log', ''); // register() by hand after deregister()
    expect(states.reregistrations).toBe(2);
    expect(states.since.getTime()).toBeGreaterThanOrEqual(before.getTime());
  });

  it('derives isRegistered and whenRegistered() from the state', async () => {
    const { states } = machine();
    let resolved = false;
    const waiting = states.whenRegistered().then(() => (resolved = true));
    states.to('waiting', 'debug', '');
    expect(states.isRegistered).toBe(false);
    states.to('registered', 'log', '');
    await waiting;
    expect(resolved).toBe(true);
    states.to('out-of-reach', 'debug', '');
    expect(states.isRegistered).toBe(true); // nothing says Consul lost it
    states.to('lost', 'warn', '');
    expect(states.isRegistered).toBe(false);
  });

  it('refuses moves the table does not allow: a late answer cannot undo a shutdown', () => {
    const { states, lines } = machine();
    states.to('waiting', 'debug', 'waiting');
    states.to('stopped', 'debug', 'stopped');
    expect(states.to('registered', 'log', 'late')).toBe(false);
    expect(states.state).toBe('stopped');
    expect(lines).toEqual(['DEBUG waiting', 'DEBUG stopped']);
  });

  it('has an entry for every state, and stopped is final', () => {
    for (const targets of Object.values(REGISTRATION_TRANSITIONS)) {
      for (const to of targets) expect(Object.keys(REGISTRATION_TRANSITIONS)).toContain(to);
    }
    expect(REGISTRATION_TRANSITIONS.stopped).toEqual([]);
  });
});
