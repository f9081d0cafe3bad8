// Proves that node-vault 0.12.0 (from npm, pinned in package-lock.json) works unchanged
// against a live, uninitialized leasefs server: init and unseal, KV v1 and v2 round
// trips with versions (?version=1 after two writes, cas), policy write through
// node-vault's sys/policy (with "rules"), a token with that policy allowed on one path
// and denied (403 "permission denied") on another, AppRole enable + role + role-id +
// secret-id + login, token revoke then 403, seal then unseal with the data kept.
//
// Run with `node` by tests/clients/clients_test.cc, which starts and stops the server.
// Environment: VAULT_ADDR, VAULT_CACERT (CA file for https, else empty), and
// LEASEFS_TEST_SECRETS_FILE: every secret seen (root token, unseal keys, tokens, secret
// IDs, secret values) is written there, one per line, so the caller can check none was
// printed. Prints only step names; any failed assertion or rejection exits non-zero.
'use strict';

const assert = require('assert/strict');
const fs = require('fs');
const nodeVault = require('node-vault');

const ADDR = process.env.VAULT_ADDR;
const CACERT = process.env.VAULT_CACERT || '';
const SECRETS_FILE = process.env.LEASEFS_TEST_SECRETS_FILE;

const POLICY = `
path "secret/data/allowed/*" {
  capabilities = ["read"]
}
path "kv1/allowed/*" {
  capabilities = ["read", "list"]
}
`;

const seen = [];
function remember(...values) {
  for (const v of values) if (v) seen.push(String(v));
  fs.writeFileSync(SECRETS_FILE, seen.join('\n') + '\n', { mode: 0o600 });
}

function step(name) {
  console.log(`ok - ${name}`);
}

function client(token) {
  const requestOptions = { timeout: 10000 };
  if (CACERT) requestOptions.ca = fs.readFileSync(CACERT);
  return nodeVault({ endpoint: ADDR, token, requestOptions });
}

// Awaits `promise`, which must reject with this HTTP status (and, when given, message).
async function rejects(promise, status, message) {
  let result;
  try {
    result = await promise;
  } catch (err) {
    assert.ok(err.response, `expected HTTP ${status}, got ${err.constructor.name}: ${err.message}`);
    assert.equal(err.response.statusCode, status, `expected HTTP ${status}, got ${err.response.statusCode}`);
    if (message !== undefined) {
      assert.deepEqual(err.response.body, { errors: [message] });
    }
    return;
  }
  assert.fail(`expected HTTP ${status}, got success: ${JSON.stringify(Object.keys(result || {}))}`);
}

async function main() {
  const admin = client();

  // --- init and unseal ---
  assert.deepEqual(await admin.initialized(), { initialized: false });
  const init = await admin.init({ secret_shares: 3, secret_threshold: 2 });
  const keys = init.keys;
  const root = init.root_token;
  remember(root, ...keys, ...(init.keys_base64 || []));
  assert.equal(keys.length, 3);
  let status = await admin.status();
  assert.equal(status.initialized, true);
  assert.equal(status.sealed, true);
  status = await admin.unseal({ key: keys[1] });
  assert.equal(status.sealed, true);
  assert.equal(status.progress, 1);
  status = await admin.unseal({ key: keys[0] });
  assert.equal(status.sealed, false);
  step('init and unseal');

  admin.token = root;
  await admin.mount({ mount_point: 'secret', type: 'kv', options: { version: '2' } });
  await admin.mount({ mount_point: 'kv1', type: 'kv', options: { version: '1' } });
  const mounts = await admin.mounts();
  assert.equal(mounts.data['secret/'].options.version, '2');
  assert.equal(mounts.data['kv1/'].type, 'kv');
  step('enable kv v1 and v2');

  // --- KV v1 ---
  await admin.write('kv1/allowed/app', { user: 'alice', port: 5432 });
  await admin.write('kv1/denied/app', { user: 'mallory' });
  assert.deepEqual((await admin.read('kv1/allowed/app')).data, { user: 'alice', port: 5432 });
  assert.deepEqual((await admin.list('kv1/')).data.keys.sort(), ['allowed/', 'denied/']);
  await admin.write('kv1/allowed/app', { user: 'bob' });
  assert.deepEqual((await admin.read('kv1/allowed/app')).data, { user: 'bob' });
  await admin.write('kv1/allowed/tmp', { x: '1' });
  await admin.delete('kv1/allowed/tmp');
  await rejects(admin.read('kv1/allowed/tmp'), 404);
  step('kv v1 round trip');

  // --- KV v2 with versions ---
  remember('first-password-value', 'second-password-value');
  const w1 = await admin.write('secret/data/allowed/db', { data: { password: 'first-password-value' } });
  assert.equal(w1.data.version, 1);
  const w2 = await admin.write('secret/data/allowed/db', { data: { password: 'second-password-value' } });
  assert.equal(w2.data.version, 2);
  const latest = await admin.read('secret/data/allowed/db');
  assert.deepEqual(latest.data.data, { password: 'second-password-value' });
  assert.equal(latest.data.metadata.version, 2);
  const v1 = await admin.read('secret/data/allowed/db?version=1');
  assert.deepEqual(v1.data.data, { password: 'first-password-value' });
  assert.equal(v1.data.metadata.version, 1);
  const meta = await admin.read('secret/metadata/allowed/db');
  assert.equal(meta.data.current_version, 2);
  assert.deepEqual(Object.keys(meta.data.versions).sort(), ['1', '2']);
  await rejects(admin.write('secret/data/allowed/db', { options: { cas: 1 }, data: { password: 'stale' } }), 400,
    'check-and-set parameter did not match the current version');
  const w3 = await admin.write('secret/data/allowed/db', { options: { cas: 2 }, data: { password: 'third' } });
  assert.equal(w3.data.version, 3);
  await admin.write('secret/data/denied/db', { data: { password: 'hidden' } });
  await admin.delete('secret/data/allowed/db');
  await rejects(admin.read('secret/data/allowed/db'), 404);
  await admin.write('secret/undelete/allowed/db', { versions: [3] });
  assert.deepEqual((await admin.read('secret/data/allowed/db')).data.data, { password: 'third' });
  assert.deepEqual((await admin.list('secret/metadata/')).data.keys.sort(), ['allowed/', 'denied/']);
  step('kv v2 round trip with versions');

  // --- policy (node-vault writes sys/policy/NAME with "rules") ---
  await admin.addPolicy({ name: 'app-read', rules: POLICY });
  assert.ok((await admin.policies()).policies.includes('app-read'));
  assert.equal((await admin.getPolicy({ name: 'app-read' })).rules, POLICY);
  step('policy write');

  // --- a token with that policy (tokenCreate adopts the new token: restore root) ---
  const created = await admin.tokenCreate({ policies: ['app-read'], ttl: '1h' });
  admin.token = root;
  const token = created.auth.client_token;
  remember(token, created.auth.accessor);
  assert.deepEqual([...created.auth.policies].sort(), ['app-read', 'default']);
  const user = client(token);
  assert.deepEqual((await user.read('secret/data/allowed/db')).data.data, { password: 'third' });
  assert.deepEqual((await user.read('kv1/allowed/app')).data, { user: 'bob' });
  await rejects(user.read('secret/data/denied/db'), 403, 'permission denied');
  await rejects(user.read('kv1/denied/app'), 403, 'permission denied');
  await rejects(user.write('secret/data/allowed/db', { data: { password: 'x' } }), 403, 'permission denied');
  await rejects(user.mounts(), 403, 'permission denied');
  const self = await user.tokenLookupSelf();
  assert.deepEqual([...self.data.policies].sort(), ['app-read', 'default']);
  step('token allowed here, denied there');

  // --- AppRole ---
  await admin.enableAuth({ mount_point: 'approle', type: 'approle' });
  assert.equal((await admin.auths()).data['approle/'].type, 'approle');
  await admin.addApproleRole({ role_name: 'web', policies: 'app-read', token_ttl: 1200, secret_id_ttl: 600 });
  const role = await admin.getApproleRole({ role_name: 'web' });
  assert.deepEqual(role.data.token_policies, ['app-read']);
  assert.equal(role.data.token_ttl, 1200);
  const roleId = (await admin.getApproleRoleId({ role_name: 'web' })).data.role_id;
  const secret = await admin.getApproleRoleSecret({ role_name: 'web' });
  const secretId = secret.data.secret_id;
  remember(roleId, secretId, secret.data.secret_id_accessor);
  const app = client();
  const login = await app.approleLogin({ role_id: roleId, secret_id: secretId });
  remember(login.auth.client_token, login.auth.accessor);
  assert.equal(app.token, login.auth.client_token, 'node-vault did not adopt the login token');
  assert.deepEqual([...login.auth.token_policies].sort(), ['app-read', 'default']);
  assert.deepEqual(login.auth.metadata, { role_name: 'web' });
  assert.equal(login.auth.lease_duration, 1200);
  assert.deepEqual((await app.read('secret/data/allowed/db')).data.data, { password: 'third' });
  await rejects(app.read('secret/data/denied/db'), 403, 'permission denied');
  await rejects(client().approleLogin({ role_id: roleId, secret_id: 'wrong-secret-id' }), 400);
  step('approle login');

  // --- revoke ---
  await admin.tokenRevoke({ token });
  await rejects(user.read('secret/data/allowed/db'), 403, 'permission denied');
  await rejects(user.tokenLookupSelf(), 403, 'permission denied');
  await app.tokenRevokeSelf();
  await rejects(app.read('secret/data/allowed/db'), 403, 'permission denied');
  step('token revoke then forbidden');

  // --- seal, sealed answers, unseal, data kept ---
  await admin.seal();
  assert.equal((await admin.status()).sealed, true);
  await rejects(admin.read('secret/data/allowed/db'), 503, 'Vault is sealed');
  await admin.unseal({ key: keys[2] });
  status = await admin.unseal({ key: keys[1] });
  assert.equal(status.sealed, false);
  assert.deepEqual((await admin.read('secret/data/allowed/db?version=1')).data.data, { password: 'first-password-value' });
  step('seal and unseal keep data');

  console.log('node-vault flow: all steps passed');
}

main().then(
  () => process.exit(0),
  (err) => {
    // The message and stack only: never the request options, which carry tokens.
    console.error(`FAIL: ${err.constructor.name}: ${err.message}`);
    if (err.stack) console.error(err.stack.split('\n').slice(1).join('\n'));
    process.exit(1);
  },
);
