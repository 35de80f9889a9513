import { once } from 'node:events';
import { RequestDeadline } from './request-deadline.js';

describe('RequestDeadline', () => {
  it('emits abort once its time runs out, and says the abort was a timeout', async () => {
    const deadline = new RequestDeadline(1);
    expect(deadline.timedOut).toBe(false);
    await once(deadline, 'abort');
    expect(deadline.timedOut).toBe(true);
  });

  it('never fires once cleared', async () => {
    const deadline = new RequestDeadline(1);
    let aborted = false;
    deadline.once('abort', () => (aborted = true));
    deadline.clear();
    // A later deadline fires: by then the cleared one would have, had it not been cleared.
    await once(new RequestDeadline(20), 'abort');
    expect(aborted).toBe(false);
    expect(deadline.timedOut).toBe(false);
  });
});
