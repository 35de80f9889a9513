/**
 * What is wrong with `key` as a Consul KV key for a lock, or undefined when it is fine. Consul
 * would take most of these, but into keys nobody meant: `a//b` and `/a` are other keys than
 * `a/b` and `a`, and `..` or a control character in a key is a bug in the caller.
 */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key === '') return 'must be a non-empty string';
  if (key.length > 512) return 'is longer than 512 characters';
  if (key.startsWith('/') || key.endsWith('/')) return 'must not start or end with "/"';
  if (key.includes('//')) return 'has an empty segment ("//")';
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) return 'has a "." or ".." segment';
  if ([...key].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f) || /\s/.test(key))
    return 'contains whitespace or a control character';
  return undefined;
}
