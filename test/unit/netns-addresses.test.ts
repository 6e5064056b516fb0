// The address rule of test/support/netns.ts: tests may put only 10.77.0.0/16
// and fd77:77::/48 addresses on interfaces (and only in their own
// namespaces, which Lab.own checks); anything else is refused before `ip`
// runs.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {assertLabAddress, isLabAddress} from '../support/netns.js'

test('lab addresses: 10.77.0.0/16 and fd77:77::/48 only', () => {
  for (const a of ['10.77.0.1/24', '10.77.255.254', 'fd77:77::2/64', 'fd77:77::a', 'fd77:77:0:ffff::1/64', 'fd77:0077::1/48', 'FD77:77::B/128']) {
    assert.equal(isLabAddress(a), true, a)
  }
  for (const a of ['10.78.0.1/24', '192.168.0.1', 'fd77:78::1/64', 'fd77:77:1::1/64', 'fd00::1/64', '2001:db8::1/64', '::1',
    'fd77:77::1/47', 'fd77:77::1/0', 'fd77::77:0:0:0/64', 'fd77:77::zz', '::ffff:10.77.0.1']) {
    assert.equal(isLabAddress(a), false, a)
  }
  assert.throws(() => assertLabAddress('fd00::1/64'), /outside 10\.77\.0\.0\/16 and fd77:77::\/48/)
})
