/** An installation's id: made once at the first open, kept, distinct per database; labels and names carry it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { DcmError } from '../../src/errors.js';
import { containerLabels, containerName, imageLabels, networkLabels, provenance } from '../../src/engine/labels.js';
import { tempDir } from '../helpers/tmp.js';
import { rawDb } from '../helpers/raw-db.js';

test('the installation id is made at the first open, never changes, and differs between databases', () => {
  const a = join(tempDir('dcm-inst-'), 'dcm.db');
  const b = join(tempDir('dcm-inst-'), 'dcm.db');
  const s1 = Store.open(a);
  const id = s1.installation.id;
  assert.match(id, /^[0-9a-f]{32}$/);
  s1.close();
  const s2 = Store.open(a);
  assert.equal(s2.installation.id, id);
  const raw = rawDb(s2);
  assert.throws(() => raw.prepare("INSERT INTO installation (one, id) VALUES (2, 'ffffffffffffffffffffffffffffffff')").run(), /CHECK/);
  raw.close();
  s2.close();
  const s3 = Store.open(b);
  assert.notEqual(s3.installation.id, id);
  s3.close();
});

test('a database whose installation row was deleted stops with one line instead of making a new id', () => {
  const s = Store.open(join(tempDir('dcm-inst-'), 'dcm.db'));
  const raw = rawDb(s);
  raw.prepare('DELETE FROM installation').run();
  raw.close();
  assert.throws(
    () => s.installation.id,
    (e: unknown) => e instanceof DcmError && e.code === 'config' && /no installation id/.test(e.userMessage),
  );
  s.close();
});

test('labels and names carry the installation; provenance tells ours, legacy and foreign apart', () => {
  const me = '0123456789abcdef0123456789abcdef';
  const other = 'fedcba9876543210fedcba9876543210';
  assert.equal(containerName('dcm', me, 20001), 'dcm-01234567-20001');
  const c = containerLabels('alice', 20001, 'dcm', me);
  assert.deepEqual(c, {
    'dcm.managed': '1',
    'dcm.owner': 'alice',
    'dcm.instance': 'dcm',
    'dcm.installation': me,
    'dcm.id': '20001',
    'dcm.restart': 'unless-stopped',
  });
  assert.equal(imageLabels('alice', 'dcm', me)['dcm.installation'], me);
  assert.equal(networkLabels('alice', 'tok', 'dcm', me)['dcm.installation'], me);
  assert.equal(provenance(c, 'dcm', me), 'ours');
  assert.equal(provenance(c, 'dcm', other), 'foreign');
  const legacy = { 'dcm.managed': '1', 'dcm.owner': 'alice', 'dcm.instance': 'dcm', 'dcm.id': '20001' };
  assert.equal(provenance(legacy, 'dcm', me), 'legacy');
  assert.equal(provenance(legacy, 'other', me), 'foreign');
  assert.equal(provenance({}, 'dcm', me), 'foreign');
});
