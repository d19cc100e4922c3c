// The baseline of README's hot-path row: @slack/oauth's
// InstallProvider.authorize over its MemoryInstallationStore (plaintext),
// 1 000 installed workspaces, each call awaited, tenants drawn from a fixed
// sequence like rotation's BenchmarkAuthorizeHot. Prints Go benchmark lines
// (ns/op, and cpu-ns/op: the process's CPU time per call, which, unlike
// ns/op, does not grow when other processes share the cores) so that
// benchstat reads them beside the Go rows:
//
//   node scripts/bolt-authorize.js [count]   (from a folder where @slack/oauth@4.0.0 is installed)
//
// "bot" installs a bot token only; "full" adds a user token, refresh tokens
// with a far expiry (no refresh is due) and an incoming webhook.
'use strict';
const { InstallProvider, MemoryInstallationStore } = require('@slack/oauth');

const tenants = 1000;
const calls = 200000;
const count = Number(process.argv[2] || 6);

function installation(i, full) {
  const team = 'T' + String(i).padStart(7, '0');
  const inst = {
    team: { id: team, name: 'Team ' + team },
    enterprise: undefined,
    isEnterpriseInstall: false,
    appId: 'A0TEST',
    tokenType: 'bot',
    authVersion: 'v2',
    bot: { id: 'B' + team, userId: 'UB' + team, token: 'xoxb-test-' + team, scopes: ['chat:write', 'commands'] },
    user: { id: 'U1', token: undefined, scopes: undefined },
  };
  if (full) {
    const far = Math.floor(Date.now() / 1000) + 365 * 24 * 3600;
    inst.bot.refreshToken = 'xoxe-1-test-' + team;
    inst.bot.expiresAt = far;
    inst.user = { id: 'U1', token: 'xoxp-test-' + team, refreshToken: 'xoxe-1-test-user-' + team, expiresAt: far, scopes: ['search:read'] };
    inst.incomingWebhook = { url: 'https://hooks.slack.invalid/services/' + team, channel: '#general', channelId: 'C' + team, configurationUrl: 'https://example.invalid/' };
  }
  return inst;
}

async function bench(name, full) {
  const store = new MemoryInstallationStore();
  const provider = new InstallProvider({ clientId: 'test', clientSecret: 'test', stateSecret: 'test-state-secret', installationStore: store, logLevel: 'error' });
  for (let i = 0; i < tenants; i++) await store.storeInstallation(installation(i, full));
  // A fixed pseudo-random sequence of tenants (xorshift), as the Go benchmark draws.
  const seq = new Array(1 << 16);
  let x = 88172645463325252n;
  for (let i = 0; i < seq.length; i++) {
    x ^= (x << 13n) & 0xffffffffffffffffn; x ^= x >> 7n; x ^= (x << 17n) & 0xffffffffffffffffn;
    const team = 'T' + String(Number(x % BigInt(tenants))).padStart(7, '0');
    seq[i] = { teamId: team, enterpriseId: undefined, isEnterpriseInstall: false };
  }
  for (let i = 0; i < 20000; i++) await provider.authorize(seq[i % seq.length]); // warm up the JIT
  for (let r = 0; r < count; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      const res = await provider.authorize(seq[i % seq.length]);
      if (!res.botToken) throw new Error('no bot token');
    }
    const ns = Number(process.hrtime.bigint() - t0) / calls;
    const c = process.cpuUsage(c0); // microseconds, every thread of the process (V8's GC helpers too)
    const cpu = ((c.user + c.system) * 1000) / calls;
    console.log(`BenchmarkBoltAuthorize/${name}-2\t${calls}\t${ns.toFixed(1)} ns/op\t${cpu.toFixed(1)} cpu-ns/op`);
  }
}

(async () => {
  console.log('pkg: @slack/oauth@4.0.0');
  await bench('tenants=1000/bot', false);
  await bench('tenants=1000/full', true);
})().catch((e) => { console.error(e); process.exit(1); });
