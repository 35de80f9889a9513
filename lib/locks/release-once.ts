/**
 * `work` run at most once: every call gets the same promise, also a call made from inside `work`
 * itself. That happens: a release aborts its lock's signal first, and the signal's abort listener
 * calls release() again, which must not start a second release (a late second delete could free
 * what the app has taken again meanwhile). The promise is in place before `work` starts.
 */
export function releaseOnce(work: () => Promise<void>): () => Promise<void> {
  let released: Promise<void> | undefined;
  return () => {
    if (!released) {
      let settle!: (done: Promise<void>) => void;
      released = new Promise<void>((resolve) => (settle = resolve));
      settle(work());
    }
    return released;
  };
}
