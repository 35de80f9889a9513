export { ConsulLock, type ConsulLockOptions } from './consul-lock.js';
export { ConsulLockService, type ConsulLockHolder } from './consul-lock.service.js';
export { ConsulLockError } from './consul-lock.errors.js';
export { ConsulLeaderService } from './consul-leader.service.js';
export { ConsulElection } from './consul-election.js';
export { LeaderOnly, OnLeadershipGranted, OnLeadershipRevoked } from './leader.decorators.js';
export type { ConsulLocksOptions } from '../options/locks.options.js';
export { ConsulSemaphoreService, ConsulSemaphoreLease } from './consul-semaphore.service.js';
