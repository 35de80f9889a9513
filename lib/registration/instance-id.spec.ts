import { defaultInstanceId } from './instance-id.js';

describe('defaultInstanceId', () => {
  it('is DNS-safe and carries name, host and port', () => {
    expect(defaultInstanceId('user_service', 5001, 'My_Host.local')).toBe('user-service-my-host-local-5001');
    expect(defaultInstanceId('api', 80, '--weird..host--')).toBe('api-weird-host-80');
  });

  it('is stable for one instance and distinct per port', () => {
    expect(defaultInstanceId('api', 80, 'h')).toBe(defaultInstanceId('api', 80, 'h'));
    expect(defaultInstanceId('api', 80, 'h')).not.toBe(defaultInstanceId('api', 81, 'h'));
  });
});
