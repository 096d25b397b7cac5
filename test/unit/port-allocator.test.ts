import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseAllocation, sshPortOrder, type AllocationInput } from '../../src/net/port-allocator.js';

function input(over: Partial<AllocationInput> & { used?: Record<string, number[]> }): AllocationInput {
  const used = over.used ?? {};
  return {
    aliases: ['127.0.0.1', '127.0.0.2'],
    sshRange: { lo: 20000, hi: 20003 },
    usedIds: new Set(),
    usedOn: (ip) => new Set(used[ip] ?? []),
    extraPorts: [],
    hostBusy: new Set(),
    ...over,
    cursor: over.cursor ?? null,
  };
}

test('takes the lowest free SSH port on the first alias', () => {
  assert.deepEqual(chooseAllocation(input({})), { ip: '127.0.0.1', sshPort: 20000, extraPorts: [] });
  assert.deepEqual(chooseAllocation(input({ usedIds: new Set([20000, 20001]) })), { ip: '127.0.0.1', sshPort: 20002, extraPorts: [] });
});

test('an SSH port used as an id on another alias is not reused', () => {
  const r = chooseAllocation(input({ usedIds: new Set([20000]), used: { '127.0.0.2': [20000] } }));
  assert.equal(r && 'sshPort' in r && r.sshPort, 20001);
});

test('moves to the next alias when a requested extra port is taken (the paper rule)', () => {
  const r = chooseAllocation(input({ extraPorts: [8080], used: { '127.0.0.1': [8080] } }));
  assert.deepEqual(r, { ip: '127.0.0.2', sshPort: 20000, extraPorts: [8080] });
});

test('all requested ports must be free on the same alias', () => {
  const r = chooseAllocation(input({ extraPorts: [8080, 9090], used: { '127.0.0.1': [8080], '127.0.0.2': [9090] } }));
  assert.deepEqual(r, { reason: 'ports-taken', ports: [8080, 9090] });
});

test('ports held by other host processes are skipped', () => {
  const r = chooseAllocation(input({ hostBusy: new Set(['127.0.0.1:20000', '127.0.0.1:20001']) }));
  assert.deepEqual(r, { ip: '127.0.0.1', sshPort: 20002, extraPorts: [] });
  const r2 = chooseAllocation(input({ extraPorts: [8080], hostBusy: new Set(['127.0.0.1:8080']) }));
  assert.equal(r2 && 'ip' in r2 && r2.ip, '127.0.0.2');
});

test('a full SSH range is reported as such', () => {
  const r = chooseAllocation(input({ usedIds: new Set([20000, 20001, 20002, 20003]) }));
  assert.deepEqual(r, { reason: 'ssh-range-full' });
});

test('a freed port is handed out again only after the rest of the range: the search starts after the cursor and wraps', () => {
  // 20000 was handed out and freed again; the next create must not get it back.
  assert.deepEqual(chooseAllocation(input({ cursor: 20000 })), { ip: '127.0.0.1', sshPort: 20001, extraPorts: [] });
  assert.deepEqual(chooseAllocation(input({ cursor: 20001, usedIds: new Set([20002]) })), {
    ip: '127.0.0.1',
    sshPort: 20003,
    extraPorts: [],
  });
  // At the top of the range it wraps to the bottom; the cursor's own port comes last.
  assert.deepEqual(chooseAllocation(input({ cursor: 20003 })), { ip: '127.0.0.1', sshPort: 20000, extraPorts: [] });
  assert.deepEqual(chooseAllocation(input({ cursor: 20001, usedIds: new Set([20000, 20002, 20003]) })), {
    ip: '127.0.0.1',
    sshPort: 20001,
    extraPorts: [],
  });
  assert.deepEqual(sshPortOrder({ lo: 20000, hi: 20003 }, 20001), [20002, 20003, 20000, 20001]);
  // A cursor left outside a range the admin has since changed starts at the bottom.
  assert.deepEqual(sshPortOrder({ lo: 20000, hi: 20003 }, 19000), [20000, 20001, 20002, 20003]);
  assert.deepEqual(sshPortOrder({ lo: 20000, hi: 20003 }, null), [20000, 20001, 20002, 20003]);
  assert.deepEqual(chooseAllocation(input({ cursor: 20002, usedIds: new Set([20000, 20001, 20002, 20003]) })), {
    reason: 'ssh-range-full',
  });
});
